package dev.cogvlm4j.bench;

import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;
import java.util.SplittableRandom;

/** GEMM throughput of the engine's kernels for one shape and weight type, against random weights. */
public final class GemmProbe {
    private GemmProbe() {
    }

    /** Median GFLOP/s of {@code out[n,m] = x[n,k] · W[m,k]ᵀ}. */
    public static double gflops(int n, int m, int k, DType type, int runs) {
        Tensor w = RandomWeights.tensor("w", type, new long[]{m, k}, 1);
        float[] x = new float[n * k];
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-1, 1);
        }
        float[] out = new float[n * m];
        Kernels kern = Kernels.get();
        for (int i = 0; i < 3; i++) {
            kern.matmul(x, n, w, null, out);
        }
        double[] g = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            kern.matmul(x, n, w, null, out);
            g[i] = 2.0 * n * m * k / (System.nanoTime() - t0);
        }
        return MachinePeaks.median(g);
    }

    /** Prints peaks and a few GEMM figures (a quick look; the CLI's bench command is the full report). */
    public static void main(String[] args) {
        System.out.printf("fma peak %.1f GFLOP/s, triad %.1f GB/s%n", MachinePeaks.fmaPeakGflops(5),
                MachinePeaks.triadBandwidthGbps(5));
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        for (DType t : new DType[]{DType.F32, DType.BF16, DType.Q8_0, DType.Q4_0}) {
            System.out.printf("%s n=%d 4096x4096: %.1f GFLOP/s%n", t, n, gflops(n, 4096, 4096, t, 5));
        }
    }
}
