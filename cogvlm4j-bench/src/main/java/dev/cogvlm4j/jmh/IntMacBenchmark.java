package dev.cogvlm4j.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Whether HotSpot turns plain integer multiply-add reductions into int8/int16 dot-product (VNNI) instructions:
 * llama.cpp's Q4_0 and Q8_0 speed comes from them, and the Vector API offers none. Scores are multiply-adds per
 * microsecond on one thread; vectorised VNNI code would run an order of magnitude above scalar speed.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class IntMacBenchmark {
    private static final int N = 4096;
    private final short[] a16 = new short[N];
    private final short[] b16 = new short[N];
    private final byte[] a8 = new byte[N];
    private final byte[] b8 = new byte[N];
    private final int[] pairs = new int[N / 2];

    @Setup
    public void setup() {
        for (int i = 0; i < N; i++) {
            a16[i] = (short) (i % 100);
            b16[i] = (short) (i % 7);
            a8[i] = (byte) i;
            b8[i] = (byte) (3 * i);
        }
    }

    /** {@code s += a[i]·b[i]} over shorts. */
    @Benchmark
    @OperationsPerInvocation(N)
    public int int16() {
        int s = 0;
        for (int i = 0; i < N; i++) {
            s += a16[i] * b16[i];
        }
        return s;
    }

    /** The pairwise form HotSpot's MulAddS2I pattern matches. */
    @Benchmark
    @OperationsPerInvocation(N)
    public int int16Pairs() {
        int s = 0;
        for (int i = 0; i < N; i += 2) {
            s += a16[i] * b16[i] + a16[i + 1] * b16[i + 1];
        }
        return s;
    }

    /** {@code s += a[i]·b[i]} over bytes. */
    @Benchmark
    @OperationsPerInvocation(N)
    public int int8() {
        int s = 0;
        for (int i = 0; i < N; i++) {
            s += a8[i] * b8[i];
        }
        return s;
    }

    /**
     * The element-wise form of HotSpot's own MulAddS2I tests ({@code out[i] += a[2i]·b[2i] + a[2i+1]·b[2i+1]}),
     * which C2 vectorises to {@code vpmaddwd}, or {@code vpdpwssd} with AVX512-VNNI: the pattern it recognises
     * stores each pair's sum, where the reductions above keep one running sum.
     */
    @Benchmark
    @OperationsPerInvocation(N)
    public int[] int16PairsIntoArray() {
        for (int i = 0; i < N / 2; i++) {
            pairs[i] += a16[2 * i] * b16[2 * i] + a16[2 * i + 1] * b16[2 * i + 1];
        }
        return pairs;
    }
}
