package dev.cogvlm4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each kernel against a plain double-precision reference written out in the test. */
class KernelsTest {
    private final Kernels k = Kernels.get();
    private final Random rnd = new Random(7);

    private float[] random(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    private static void close(double[] want, float[] got, double tol) {
        for (int i = 0; i < want.length; i++) {
            assertTrue(Math.abs(want[i] - got[i]) <= tol * (1 + Math.abs(want[i])),
                    "index " + i + ": want " + want[i] + " got " + got[i]);
        }
    }

    private static Tensor bf16(float[] values, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(values.length * 2L);
        for (int i = 0; i < values.length; i++) {
            seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i,
                    (short) (Float.floatToIntBits(values[i]) >>> 16));
        }
        return Tensor.of("w", DType.BF16, new long[]{rows, cols}, seg);
    }

    private static Tensor f16(float[] values, int rows, int cols) {
        MemorySegment seg = Arena.ofAuto().allocate(values.length * 2L);
        for (int i = 0; i < values.length; i++) {
            seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i,
                    Float.floatToFloat16(values[i]));
        }
        return Tensor.of("w", DType.F16, new long[]{rows, cols}, seg);
    }

    @ParameterizedTest
    @CsvSource({"1,1,1,F32", "3,17,33,F32", "5,64,70,BF16", "7,31,129,F16", "300,40,48,BF16"})
    void matmulMatchesNaive(int n, int m, int kk, String type) {
        float[] x = random(n * kk);
        float[] wv = random(m * kk);
        Tensor w = switch (type) {
            case "BF16" -> bf16(wv, m, kk);
            case "F16" -> f16(wv, m, kk);
            default -> Tensor.ofFloats("w", wv, m, kk);
        };
        float[] bias = random(m);
        float[] out = new float[n * m];
        k.matmul(x, n, w, bias, out);
        double[] want = new double[n * m];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double s = bias[j];
                for (int t = 0; t < kk; t++) {
                    s += (double) x[i * kk + t] * w.get((long) j * kk + t);
                }
                want[i * m + j] = s;
            }
        }
        close(want, out, 1e-5);
    }

    /** Every layout of the float product, overwriting and accumulating, past one k-block and with ragged edges. */
    @ParameterizedTest
    @CsvSource({"1,1,1", "7,5,33", "8,32,16", "66,128,128", "9,1000,40", "130,37,65"})
    void gemmMatchesNaiveInEveryLayout(int n, int kk, int m) {
        for (boolean at : new boolean[]{false, true}) {
            for (boolean bt : new boolean[]{false, true}) {
                float[] a = random(n * kk);
                float[] b = random(m * kk);
                float[] c0 = random(n * m);
                double[] want = new double[n * m];
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < m; j++) {
                        double s = 0;
                        for (int t = 0; t < kk; t++) {
                            s += (double) (at ? a[t * n + i] : a[i * kk + t]) * (bt ? b[t * m + j] : b[j * kk + t]);
                        }
                        want[i * m + j] = s;
                    }
                }
                float[] c = c0.clone();
                k.gemm(a, at, b, bt, n, kk, m, c, false);
                close(want, c, 1e-5 * Math.sqrt(kk));
                double[] plus = new double[n * m];
                for (int i = 0; i < plus.length; i++) {
                    plus[i] = want[i] + c0[i];
                }
                c = c0.clone();
                k.gemm(a, at, b, bt, n, kk, m, c, true);
                close(plus, c, 1e-5 * Math.sqrt(kk));
            }
        }
    }

    @Test
    void gemmRefusesBuffersThatDoNotHoldTheShapes() {
        float[] small = new float[10];
        float[] big = new float[100];
        for (Runnable call : new Runnable[]{
                () -> k.gemm(small, false, big, false, 5, 5, 4, big, false),
                () -> k.gemm(big, true, small, true, 5, 5, 4, big, true),
                () -> k.gemm(big, false, big, false, 5, 5, 4, small, false),
                () -> k.gemm(big, false, big, false, -1, 5, 4, big, false),
                () -> k.gemm(big, false, big, false, 4, -5, 4, big, true)}) {
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    call::run);
            assertTrue(e.getMessage().startsWith("gemm: "), e.getMessage());
        }
    }

    @Test
    void gemmAccumulatesAsAddingTheProduct() {
        // One k-block: c + (A·Bᵀ) computed apart gives the same bits as accumulating in place.
        float[] a = random(40 * 64);
        float[] b = random(24 * 64);
        float[] c = random(40 * 24);
        float[] product = new float[c.length];
        k.gemm(a, false, b, false, 40, 64, 24, product, false);
        float[] acc = c.clone();
        k.gemm(a, false, b, false, 40, 64, 24, acc, true);
        for (int i = 0; i < c.length; i++) {
            assertEquals(Float.floatToRawIntBits(c[i] + product[i]), Float.floatToRawIntBits(acc[i]), "index " + i);
        }
    }

    @Test
    void bf16WidensExactly() {
        float[] v = {1.5f, -2.25f, 3.0e-3f, 65504f, -0f};
        Tensor t = bf16(v, 1, v.length);
        for (int i = 0; i < v.length; i++) {
            assertEquals(Float.intBitsToFloat(Float.floatToIntBits(v[i]) & 0xffff0000), t.get(i));
        }
        float[] row = new float[40];
        float[] big = random(40);
        bf16(big, 1, 40).readRow(0, row, 0);
        for (int i = 0; i < 40; i++) {
            assertEquals(Float.intBitsToFloat(Float.floatToIntBits(big[i]) & 0xffff0000), row[i]);
        }
    }

    @Test
    void normsMatchDefinitions() {
        int n = 3;
        int d = 37;
        float[] x = random(n * d);
        float[] w = random(d);
        float[] b = random(d);
        float[] out = new float[n * d];
        k.rmsNorm(x, n, d, w, 1e-5f, out);
        double[] want = new double[n * d];
        for (int r = 0; r < n; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) {
                ss += x[r * d + i] * x[r * d + i];
            }
            double inv = 1 / Math.sqrt(ss / d + 1e-5);
            for (int i = 0; i < d; i++) {
                want[r * d + i] = w[i] * x[r * d + i] * inv;
            }
        }
        close(want, out, 1e-6);
        k.layerNorm(x, n, d, w, b, 1e-6f, out);
        for (int r = 0; r < n; r++) {
            double mean = 0;
            for (int i = 0; i < d; i++) {
                mean += x[r * d + i];
            }
            mean /= d;
            double var = 0;
            for (int i = 0; i < d; i++) {
                var += Math.pow(x[r * d + i] - mean, 2);
            }
            var /= d;
            for (int i = 0; i < d; i++) {
                want[r * d + i] = (x[r * d + i] - mean) / Math.sqrt(var + 1e-6) * w[i] + b[i];
            }
        }
        close(want, out, 1e-5);
    }

    @Test
    void geluIsTheErfForm() {
        // Reference values of 0.5·x·(1 + erf(x/√2)) (torch.nn.functional.gelu, approximate='none').
        float[] x = {-3f, -1f, -0.5f, 0f, 0.5f, 1f, 2f, 4.5f};
        double[] want = {-0.0040496981, -0.1586552539, -0.1542687213, 0, 0.3457312787, 0.8413447461, 1.9544997361,
                4.4999846968};
        k.gelu(x, x.length);
        close(want, x, 2e-7);
    }

    /**
     * x·Φ(x) in double through erfc (Numerical Recipes' fit, as the kernel uses), so the far negative tail keeps its
     * tiny values instead of cancelling to zero as 1 + erf does.
     */
    private static double geluReference(double x) {
        double z = Math.abs(x) / Math.sqrt(2);
        double t = 1 / (1 + 0.5 * z);
        double erfc = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? x - 0.5 * x * erfc : 0.5 * x * erfc;
    }

    @Test
    void vectorGeluAndSiluGateMatchDoublePrecisionOverTheirWholeRange() {
        // Within 1e-6 of the value (a few units in the last place; the scalar double form it replaced was within
        // half of one). Every 1/1024 from -20 to 20 plus the edges: an odd length, so the masked tail and several parallel
        // chunks (2^15 elements each) run too.
        int n = 40 * 1024 + 7;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -20f + i / 1024f;
        }
        x[n - 1] = 90f;
        x[n - 2] = -90f;
        x[n - 3] = Float.MIN_NORMAL;
        float[] g = x.clone();
        k.gelu(g, n);
        float[] u = new float[n];
        java.util.Arrays.fill(u, 1.5f);
        float[] s = x.clone();
        k.siluGate(s, u, n);
        for (int i = 0; i < n; i++) {
            double want = geluReference(x[i]);
            assertTrue(Math.abs(want - g[i]) <= 1e-6 * Math.abs(want) + 1e-30,
                    "gelu(" + x[i] + "): want " + want + " got " + g[i]);
            double silu = x[i] / (1 + Math.exp(-x[i])) * 1.5;
            assertTrue(Math.abs(silu - s[i]) <= 5e-7 * Math.abs(silu) + 1e-30,
                    "silu(" + x[i] + "): want " + silu + " got " + s[i]);
        }
    }

    @Test
    void siluGateAndAdd() {
        float[] g = {-2f, 0f, 3f};
        float[] u = {1f, 5f, -2f};
        k.siluGate(g, u, 3);
        double[] want = new double[3];
        double[] gs = {-2, 0, 3};
        double[] us = {1, 5, -2};
        for (int i = 0; i < 3; i++) {
            want[i] = gs[i] / (1 + Math.exp(-gs[i])) * us[i];
        }
        close(want, g, 1e-6);
    }

    @Test
    void rotaryHalvesAndPairs() {
        float[] x = {1, 2, 3, 4};
        float[] cos = {0.5f, 0.25f, 0.5f, 0.25f};
        float[] sin = {0.1f, 0.2f, 0.1f, 0.2f};
        float[] h = x.clone();
        k.rotary(h, 0, 1, 4, cos, sin, 0, false);
        // Halves: (x1, x2) = ([1,2], [3,4]); out = x·cos + rotate_half(x)·sin with rotate_half = [−x2, x1].
        close(new double[]{1 * 0.5 - 3 * 0.1, 2 * 0.25 - 4 * 0.2, 3 * 0.5 + 1 * 0.1, 4 * 0.25 + 2 * 0.2}, h, 1e-7);
        float[] p = x.clone();
        k.rotary(p, 0, 1, 4, cos, sin, 0, true);
        // Pairs: (x0, x1) → (x0·c − x1·s, x1·c + x0·s).
        close(new double[]{1 * 0.5 - 2 * 0.1, 2 * 0.25 + 1 * 0.2, 3 * 0.5 - 4 * 0.1, 4 * 0.25 + 3 * 0.2}, p, 1e-7);
    }

    @ParameterizedTest
    @CsvSource({"5,5,2,2,8,true,0", "3,9,4,2,16,true,6", "7,11,2,1,4,false,0", "1,300,4,4,8,true,299",
            "40,40,2,1,16,true,0", "300,300,4,2,32,false,0", "70,100,2,2,8,true,30", "600,600,2,2,16,true,0",
            // Head sizes of whole vectors take the four-keys-at-a-time path, with remainders of 1 to 3 keys.
            "1,1251,4,2,128,true,1250", "3,37,2,2,64,true,34", "2,21,4,4,112,false,0", "4,6,2,1,32,true,2"})
    void attentionMatchesSoftmaxReference(int n, int m, int heads, int kvHeads, int d, boolean causal, int past) {
        float[] q = random(n * heads * d);
        float[] kk = random(m * kvHeads * d);
        float[] v = random(m * kvHeads * d);
        float[] out = new float[n * heads * d];
        float scale = (float) (1 / Math.sqrt(d));
        k.attention(q, 0, heads * d, kk, 0, v, 0, kvHeads * d, out, n, m, heads, kvHeads, d, scale, causal, past);
        double[] want = new double[n * heads * d];
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < heads; h++) {
                int g = h / (heads / kvHeads);
                int limit = causal ? Math.min(m, past + i + 1) : m;
                double[] s = new double[limit];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < limit; j++) {
                    for (int t = 0; t < d; t++) {
                        s[j] += (double) q[i * heads * d + h * d + t] * kk[j * kvHeads * d + g * d + t];
                    }
                    s[j] *= scale;
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j < limit; j++) {
                    s[j] = Math.exp(s[j] - max);
                    sum += s[j];
                }
                for (int j = 0; j < limit; j++) {
                    for (int t = 0; t < d; t++) {
                        want[i * heads * d + h * d + t] += s[j] / sum * v[j * kvHeads * d + g * d + t];
                    }
                }
            }
        }
        close(want, out, 1e-5);
    }

    @Test
    void matmulAddsEveryKBlock() {
        // k = 5,000 over 70 rows runs as two k-blocks of 2,512 and 2,488 (the second with a tail of 8 columns past
        // the 16 x 16 transposition). Positive values keep the sums far from zero, so a relative bound of 1e-5 holds
        // for float accumulation, and a lost or doubled block would miss by half.
        int n = 70;
        int m = 33;
        int kk = 5000;
        float[] x = new float[n * kk];
        float[] wv = new float[m * kk];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextFloat();
        }
        for (int i = 0; i < wv.length; i++) {
            wv[i] = rnd.nextFloat();
        }
        float[] out = new float[n * m];
        k.matmul(x, n, Tensor.ofFloats("w", wv, m, kk), null, out);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int t = 0; t < kk; t++) {
                    s += (double) x[i * kk + t] * wv[j * kk + t];
                }
                assertEquals(s, out[i * m + j], 1e-5 * s, "(" + i + "," + j + ")");
            }
        }
    }

    @Test
    void kBlocksFollowThePackedActivationsAndSplitKEvenly() {
        assertEquals(4096, Gemm.kBlock(256, 4096), "256 rows: one pass");
        assertEquals(2048, Gemm.kBlock(512, 4096), "512 rows: 4 MB of activations per 2,048");
        assertEquals(688, Gemm.kBlock(1248, 4096), "1,248 rows: the 768 floor, split into six equal blocks");
        assertEquals(2512, Gemm.kBlock(72, 5000), "two blocks of at most 4,096, rounded up to 16");
        assertEquals(48, Gemm.kBlock(300, 48), "k shorter than a block");
        assertEquals(3, Gemm.kBlock(8, 3));
    }
}
