package dev.cogvlm4j.jmh;

import dev.cogvlm4j.bench.RandomWeights;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Tensor;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;

/**
 * Per-kernel throughput on Llama-2-7B shapes: prefill GEMM (512 rows), decode GEMV (one row), attention over a
 * CogVLM image prompt, and RMSNorm. GFLOP/s = 2·n·m·k / time; compare with {@code cogvlm4j bench}'s FMA peak.
 */
public class KernelBenchmarks extends KernelBench {
    @Param({"F32", "BF16", "Q8_0", "Q4_0"})
    public String type;

    private Tensor w;
    private float[] x512;
    private float[] x1;
    private float[] out512;
    private float[] out1;
    private float[] q;
    private float[] kv;
    private float[] attnOut;
    private float[] norm;

    @Setup
    public void setup() {
        w = RandomWeights.tensor("w", DType.valueOf(type), new long[]{4096, 4096}, 1);
        SplittableRandom r = new SplittableRandom(1);
        x512 = random(r, 512 * 4096);
        x1 = random(r, 4096);
        out512 = new float[512 * 4096];
        out1 = new float[4096];
        q = random(r, 1248 * 4096);
        kv = random(r, 1248 * 4096);
        attnOut = new float[1248 * 4096];
        norm = random(r, 4096);
    }

    private static float[] random(SplittableRandom r, int n) {
        return random(r, n, 1);
    }

    /** Prefill: 512 activation rows through a 4096×4096 weight (17.2 GFLOP). */
    @Benchmark
    public float[] gemm512() {
        k.matmul(x512, 512, w, null, out512);
        return out512;
    }

    /** Decode: one activation row; bound by reading the weight once. */
    @Benchmark
    public float[] gemv() {
        k.matmul(x1, 1, w, null, out1);
        return out1;
    }

    /** Causal attention of a 1,248-token CogVLM image prompt, 32 heads of 128 (blocked path). */
    @Benchmark
    public float[] attentionPrefill() {
        k.attention(q, 0, 4096, kv, 0, kv, 0, 4096, attnOut, 1248, 1248, 32, 32, 128, 0.088f, true, 0);
        return attnOut;
    }

    /** One decode step's attention over 1,248 cached tokens. */
    @Benchmark
    public float[] attentionDecode() {
        k.attention(q, 0, 4096, kv, 0, kv, 0, 4096, attnOut, 1, 1248, 32, 32, 128, 0.088f, true, 1247);
        return attnOut;
    }

    /** RMSNorm over 512 rows of 4096. */
    @Benchmark
    public float[] rmsNorm() {
        k.rmsNorm(x512, 512, 4096, norm, 1e-5f, out512);
        return out512;
    }
}
