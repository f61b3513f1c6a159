package dev.cogvlm4j.jmh;

import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

/**
 * The elementwise kernels over one EVA2-CLIP-E MLP activation (1,226 × 15,360 values, the widest the engine meets),
 * and the training products: a micro model's backward GEMMs in their stored layouts ({@link dev.cogvlm4j.tensor.Kernels#gemm}).
 */
public class ElementwiseBenchmarks extends KernelBench {
    private static final int LEN = 1226 * 15360;
    /** A training step's linear: 96 rows of 128 into 352 (the shapes model's SwiGLU). */
    private static final int N = 96;
    private static final int K = 128;
    private static final int M = 352;

    private float[] x;
    private float[] u;
    private float[] dy;
    private float[] dx;
    private float[] du;
    private float[] work;
    private float[] act;
    private float[] weight;
    private float[] grad;
    private float[] dAct;
    private float[] dWeight;

    @Setup
    public void setup() {
        SplittableRandom r = new SplittableRandom(3);
        x = random(r, LEN);
        u = random(r, LEN);
        dy = random(r, LEN);
        dx = new float[LEN];
        du = new float[LEN];
        work = new float[LEN];
        act = random(r, N * K);
        weight = random(r, M * K);
        grad = random(r, N * M);
        dAct = new float[N * K];
        dWeight = new float[M * K];
    }

    private static float[] random(SplittableRandom r, int n) {
        return random(r, n, 4);
    }

    /** Exact GELU in place (on a fresh copy each call, so every call sees the same inputs). */
    @Benchmark
    public float[] gelu() {
        System.arraycopy(x, 0, work, 0, LEN);
        k.gelu(work, LEN);
        return work;
    }

    @Benchmark
    public float[] geluBackward() {
        k.geluBackward(x, dy, dx, LEN);
        return dx;
    }

    /** The SwiGLU gate in place (on a fresh copy each call). */
    @Benchmark
    public float[] siluGate() {
        System.arraycopy(x, 0, work, 0, LEN);
        k.siluGate(work, u, LEN);
        return work;
    }

    @Benchmark
    public float[] siluGateBackward() {
        k.siluGateBackward(x, u, dy, dx, du, LEN);
        return dx;
    }

    /** A linear's two backward products, read in place: dx += dy·W and dW += dyᵀ·x. */
    @Benchmark
    public float[] linearBackward() {
        k.gemm(grad, false, weight, true, N, M, K, dAct, true);
        k.gemm(grad, true, act, true, M, N, K, dWeight, true);
        return dWeight;
    }
}
