package dev.cogvlm4j.jmh;

import dev.cogvlm4j.bench.RandomWeights;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Parallel;
import dev.cogvlm4j.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Decoding as it meets memory: one activation row through weight matrices that together far exceed the caches
 * (Llama-2-7B's 11,008 × 4,096 MLP shape, {@value #TOTAL_MB} MB or more in all, so every call streams them from
 * DRAM), against a plain read of the same bytes on the same threads. The ratio of the two times says whether a type's
 * decode kernel is bound by memory (near 1) or by its own instructions. GB/s = the bytes printed at setup / time.
 */
public class StreamBenchmarks extends KernelBench {
    private static final int TOTAL_MB = 256;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED;
    /** Bytes each task of the plain read covers. */
    private static final long CHUNK = 1L << 20;

    @Param({"BF16", "Q8_0", "Q4_0"})
    public String type;

    private Tensor[] weights;
    private float[] x;
    private float[] out;
    private long[] partial;

    @Setup
    public void setup() {
        DType t = DType.valueOf(type);
        long rows = 11008;
        long cols = 4096;
        long bytes = t.byteSize(rows * cols);
        int count = (int) (((long) TOTAL_MB << 20) / bytes + 1);
        weights = new Tensor[count];
        for (int i = 0; i < count; i++) {
            weights[i] = RandomWeights.tensor("w" + i, t, new long[]{rows, cols}, i + 1);
        }
        x = random(new SplittableRandom(1), (int) cols, 1);
        out = new float[(int) rows];
        partial = new long[(int) ((bytes + CHUNK - 1) / CHUNK)];
        System.out.printf("%nStreamBenchmarks: %d %s matrices of %d × %d, %.1f MB in all%n", count, type, rows, cols,
                count * bytes / 1e6);
    }

    /** Decode: one activation row through every matrix, each read once in its stored type. */
    @Benchmark
    public float[] gemv() {
        for (Tensor w : weights) {
            k.matmul(x, 1, w, null, out);
        }
        return out;
    }

    /** The same bytes read once, in {@value #CHUNK}-byte tasks over the same pool, folded into a checksum. */
    @Benchmark
    public long read() {
        long sum = 0;
        for (Tensor w : weights) {
            MemorySegment seg = w.segment();
            long size = seg.byteSize();
            Parallel.range(partial.length, c -> partial[c] = fold(seg, c * CHUNK, Math.min(size, (c + 1) * CHUNK)));
            for (long p : partial) {
                sum += p;
            }
        }
        return sum;
    }

    private static long fold(MemorySegment seg, long from, long to) {
        LongVector acc = LongVector.zero(LongVector.SPECIES_PREFERRED);
        long i = from;
        for (; i + B.length() <= to; i += B.length()) {
            acc = acc.add(ByteVector.fromMemorySegment(B, seg, i, ByteOrder.LITTLE_ENDIAN).reinterpretAsLongs());
        }
        long sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < to; i++) {
            sum += seg.get(ValueLayout.JAVA_BYTE, i);
        }
        return sum;
    }
}
