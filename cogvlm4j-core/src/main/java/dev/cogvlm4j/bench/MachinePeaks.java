package dev.cogvlm4j.bench;

import dev.cogvlm4j.tensor.Parallel;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The two limits every speed figure is reported against, measured on the machine at hand: the fused
 * multiply-add peak (a register-only loop, all threads) and the memory bandwidth (STREAM triad, all threads).
 */
public final class MachinePeaks {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private MachinePeaks() {
    }

    /** GFLOP/s of a loop of independent vector FMAs that never touches memory; median of {@code runs}. */
    public static double fmaPeakGflops(int runs) {
        int threads = Parallel.threads();
        long iters = 20_000_000L;
        double[] gf = new double[runs];
        fmaLoop(iters / 20, new float[threads][F.length()]);
        for (int r = 0; r < runs; r++) {
            float[][] sink = new float[threads][F.length()];
            long t0 = System.nanoTime();
            Parallel.range(threads, th -> sink[th] = fmaLoopOne(iters));
            long t1 = System.nanoTime();
            // 12 accumulators × lanes × 2 flops per iteration, on every thread.
            gf[r] = 12.0 * F.length() * 2 * iters * threads / (t1 - t0);
            if (sink[0][0] == 42f) {
                System.out.print("");
            }
        }
        return median(gf);
    }

    private static void fmaLoop(long iters, float[][] sink) {
        for (int i = 0; i < sink.length; i++) {
            sink[i] = fmaLoopOne(iters);
        }
    }

    private static float[] fmaLoopOne(long iters) {
        FloatVector m = FloatVector.broadcast(F, 0.999999f);
        FloatVector a = FloatVector.broadcast(F, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(F, 1f), c1 = c0.add(1), c2 = c0.add(2), c3 = c0.add(3);
        FloatVector c4 = c0.add(4), c5 = c0.add(5), c6 = c0.add(6), c7 = c0.add(7);
        FloatVector c8 = c0.add(8), c9 = c0.add(9), c10 = c0.add(10), c11 = c0.add(11);
        for (long i = 0; i < iters; i++) {
            c0 = c0.fma(m, a);
            c1 = c1.fma(m, a);
            c2 = c2.fma(m, a);
            c3 = c3.fma(m, a);
            c4 = c4.fma(m, a);
            c5 = c5.fma(m, a);
            c6 = c6.fma(m, a);
            c7 = c7.fma(m, a);
            c8 = c8.fma(m, a);
            c9 = c9.fma(m, a);
            c10 = c10.fma(m, a);
            c11 = c11.fma(m, a);
        }
        float[] out = new float[F.length()];
        c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).intoArray(out, 0);
        return out;
    }

    /** GB/s of the STREAM triad {@code a = b + s·c} over arrays far larger than the caches; median of {@code runs}. */
    public static double triadBandwidthGbps(int runs) {
        int n = 1 << 25;
        float[] a = new float[n];
        float[] b = new float[n];
        float[] c = new float[n];
        Arrays.fill(b, 1f);
        Arrays.fill(c, 2f);
        int threads = Parallel.threads();
        int chunks = threads * 8;
        int per = n / chunks;
        double[] gbps = new double[runs];
        for (int r = -1; r < runs; r++) {
            long t0 = System.nanoTime();
            Parallel.range(chunks, ch -> triad(a, b, c, ch * per, per));
            long t1 = System.nanoTime();
            if (r >= 0) {
                // STREAM's convention: two arrays read and one written per element.
                gbps[r] = 3.0 * 4 * n / (t1 - t0);
            }
        }
        return median(gbps);
    }

    private static void triad(float[] a, float[] b, float[] c, int from, int len) {
        FloatVector s = FloatVector.broadcast(F, 3f);
        int i = from;
        int end = from + F.loopBound(len);
        for (; i < end; i += F.length()) {
            FloatVector.fromArray(F, c, i).fma(s, FloatVector.fromArray(F, b, i)).intoArray(a, i);
        }
        for (; i < from + len; i++) {
            a[i] = b[i] + 3f * c[i];
        }
    }

    /** The median of a sample. */
    public static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
