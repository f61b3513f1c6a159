package dev.cogvlm4j.train.nn;

import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * Forward and backward passes of the operators the CogVLM architecture is built from, on row-major float
 * blocks. Each backward takes the forward's inputs (and, where cheaper, its outputs) and the gradient of the loss
 * with respect to the output, and accumulates ({@code +=}) into the gradients of inputs and parameters, so shared
 * parameters and residual branches add up naturally. Every pair is checked against finite differences in
 * {@code OpsTest}.
 */
public final class Ops {
    private static final Kernels KERNELS = Kernels.get();

    private Ops() {
    }

    // ---- linear: y[n,m] = x[n,k] · W[m,k]ᵀ + b ----

    /** {@code y = x·Wᵀ + b} ({@code b} may be null), on the inference GEMM kernels. */
    public static void linear(float[] x, int n, int k, float[] w, int m, float[] b, float[] y) {
        KERNELS.matmul(x, n, Tensor.ofFloats("w", w, m, k), b, y);
    }

    /**
     * {@code dx += dy·W}, {@code dW += dyᵀ·x}, {@code db += Σ dy}; any gradient array may be null. Both products run
     * on the inference GEMM kernels, reading the transposed operands in place ({@link Kernels#gemm}).
     */
    public static void linearBackward(float[] x, int n, int k, float[] w, int m, float[] dy, float[] dx, float[] dw,
                                      float[] db) {
        if (dx != null) {
            // dx[n, k] += dy[n, m] · W[m, k]: W read k-major.
            KERNELS.gemm(dy, false, w, true, n, m, k, dx, true);
        }
        if (dw != null) {
            // dW[m, k] += dy[n, m]ᵀ · x[n, k]: both read with the rows as the summed index.
            KERNELS.gemm(dy, true, x, true, m, n, k, dw, true);
        }
        if (db != null) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    db[j] += dy[i * m + j];
                }
            }
        }
    }

    // ---- RMSNorm: y = x · rsqrt(mean(x²) + eps) · w ----

    /** RMSNorm per row. */
    public static void rmsNorm(float[] x, int n, int d, float[] w, float eps, float[] y) {
        for (int r = 0; r < n; r++) {
            double inv = 1 / Math.sqrt(meanSquare(x, r * d, d) + eps);
            for (int i = 0; i < d; i++) {
                y[r * d + i] = (float) (x[r * d + i] * inv * w[i]);
            }
        }
    }

    /** Backward of {@link #rmsNorm}. */
    public static void rmsNormBackward(float[] x, int n, int d, float[] w, float eps, float[] dy, float[] dx, float[] dw) {
        for (int r = 0; r < n; r++) {
            int o = r * d;
            double inv = 1 / Math.sqrt(meanSquare(x, o, d) + eps);
            double dot = 0;
            for (int i = 0; i < d; i++) {
                dot += (double) dy[o + i] * w[i] * x[o + i];
            }
            for (int i = 0; i < d; i++) {
                if (dx != null) {
                    dx[o + i] += (float) (inv * w[i] * dy[o + i] - x[o + i] * inv * inv * inv * dot / d);
                }
                if (dw != null) {
                    dw[i] += (float) (dy[o + i] * x[o + i] * inv);
                }
            }
        }
    }

    private static double meanSquare(float[] x, int o, int d) {
        double s = 0;
        for (int i = 0; i < d; i++) {
            s += (double) x[o + i] * x[o + i];
        }
        return s / d;
    }

    // ---- LayerNorm ----

    /** LayerNorm per row with weight and bias. */
    public static void layerNorm(float[] x, int n, int d, float[] w, float[] b, float eps, float[] y) {
        for (int r = 0; r < n; r++) {
            int o = r * d;
            double[] mv = meanVar(x, o, d);
            double inv = 1 / Math.sqrt(mv[1] + eps);
            for (int i = 0; i < d; i++) {
                y[o + i] = (float) ((x[o + i] - mv[0]) * inv * w[i] + b[i]);
            }
        }
    }

    /** Backward of {@link #layerNorm}. */
    public static void layerNormBackward(float[] x, int n, int d, float[] w, float eps, float[] dy, float[] dx,
                                         float[] dw, float[] db) {
        for (int r = 0; r < n; r++) {
            int o = r * d;
            double[] mv = meanVar(x, o, d);
            double inv = 1 / Math.sqrt(mv[1] + eps);
            double sumG = 0;
            double sumGx = 0;
            for (int i = 0; i < d; i++) {
                double g = (double) dy[o + i] * w[i];
                double xh = (x[o + i] - mv[0]) * inv;
                sumG += g;
                sumGx += g * xh;
                if (dw != null) {
                    dw[i] += (float) (dy[o + i] * xh);
                }
                if (db != null) {
                    db[i] += dy[o + i];
                }
            }
            if (dx != null) {
                for (int i = 0; i < d; i++) {
                    double g = (double) dy[o + i] * w[i];
                    double xh = (x[o + i] - mv[0]) * inv;
                    dx[o + i] += (float) (inv * (g - sumG / d - xh * sumGx / d));
                }
            }
        }
    }

    private static double[] meanVar(float[] x, int o, int d) {
        double m = 0;
        for (int i = 0; i < d; i++) {
            m += x[o + i];
        }
        m /= d;
        double v = 0;
        for (int i = 0; i < d; i++) {
            v += (x[o + i] - m) * (x[o + i] - m);
        }
        return new double[]{m, v / d};
    }

    // ---- activations ----

    /** Exact (erf) GELU, on the inference kernel. */
    public static void gelu(float[] x, float[] y, int len) {
        System.arraycopy(x, 0, y, 0, len);
        KERNELS.gelu(y, len);
    }

    /** Backward of {@link #gelu}: {@code Φ(x) + x·φ(x)}. */
    public static void geluBackward(float[] x, float[] dy, float[] dx, int len) {
        KERNELS.geluBackward(x, dy, dx, len);
    }

    /** SwiGLU gate: {@code y = silu(g) · u}, on the inference kernel. */
    public static void siluGate(float[] g, float[] u, float[] y, int len) {
        System.arraycopy(g, 0, y, 0, len);
        KERNELS.siluGate(y, u, len);
    }

    /** Backward of {@link #siluGate}. */
    public static void siluGateBackward(float[] g, float[] u, float[] dy, float[] dg, float[] du, int len) {
        KERNELS.siluGateBackward(g, u, dy, dg, du, len);
    }

    // ---- rotary embedding (first half / second half), by position id ----

    /** Rotates {@code heads} head vectors of each row by its position (Llama's non-interleaved form). */
    public static void rotary(float[] x, int n, int heads, int d, int[] positions, double theta, float[] y,
                              boolean inverse) {
        int half = d / 2;
        RotaryTable table = RotaryTable.of(theta, d);
        for (int r = 0; r < n; r++) {
            double[] cos = table.cos(positions[r]);
            double[] sin = table.sin(positions[r]);
            for (int i = 0; i < half; i++) {
                double c = cos[i];
                double s = inverse ? -sin[i] : sin[i];
                for (int h = 0; h < heads; h++) {
                    int o = r * heads * d + h * d;
                    double x1 = x[o + i];
                    double x2 = x[o + i + half];
                    y[o + i] = (float) (x1 * c - x2 * s);
                    y[o + i + half] = (float) (x2 * c + x1 * s);
                }
            }
        }
    }

    /** Backward of {@link #rotary}: a rotation's transpose is the rotation by minus the angle. */
    public static void rotaryBackward(float[] dy, int n, int heads, int d, int[] positions, double theta, float[] dx) {
        float[] back = new float[dy.length];
        rotary(dy, n, heads, d, positions, theta, back, true);
        for (int i = 0; i < back.length; i++) {
            dx[i] += back[i];
        }
    }

    // ---- attention for one head: o = softmax(q·kᵀ·scale + mask)·v ----

    /** Square attention over {@code n} positions, causal or not; returns the probabilities {@code [n, n]}. */
    public static float[] attention(float[] q, float[] k, float[] v, int n, int d, boolean causal, float[] o) {
        return attention(q, k, v, n, n, d, causal ? 0 : n, o);
    }

    /** Backward of {@link #attention(float[], float[], float[], int, int, boolean, float[])}. */
    public static void attentionBackward(float[] q, float[] k, float[] v, float[] p, int n, int d, float[] dout,
                                         float[] dq, float[] dk, float[] dv) {
        attentionBackward(q, k, v, p, n, n, d, dout, dq, dk, dv);
    }

    /**
     * Attention of {@code nq} queries over {@code nk} keys where query {@code i} sees keys {@code j <= offset + i}:
     * offset 0 is the causal square, offset {@code nk} no mask, and offset {@code P} a continuation after a shared
     * prefix of {@code P} keys (the keys being {@code [prefix; own]}). Returns the probabilities {@code [nq, nk]}.
     * The two products run on the GEMM kernels; the masked softmax is a plain loop.
     */
    public static float[] attention(float[] q, float[] k, float[] v, int nq, int nk, int d, int offset, float[] o) {
        float[] p = new float[nq * nk];
        KERNELS.matmul(q, nq, Tensor.ofFloats("k", k, nk, d), null, p);
        double scale = 1 / Math.sqrt(d);
        for (int i = 0; i < nq; i++) {
            int limit = Math.min(nk, offset + i + 1);
            int row = i * nk;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < limit; j++) {
                max = Math.max(max, p[row + j] * scale);
            }
            double sum = 0;
            for (int j = 0; j < limit; j++) {
                double e = Math.exp(p[row + j] * scale - max);
                p[row + j] = (float) e;
                sum += e;
            }
            float inv = (float) (1 / sum);
            for (int j = 0; j < limit; j++) {
                p[row + j] *= inv;
            }
            java.util.Arrays.fill(p, row + limit, row + nk, 0f);
        }
        KERNELS.gemm(p, false, v, true, nq, nk, d, o, false);
        return p;
    }

    /** Backward of the offset form of {@code attention}, given its probabilities {@code p}; all products on GEMM. */
    public static void attentionBackward(float[] q, float[] k, float[] v, float[] p, int nq, int nk, int d,
                                         float[] dout, float[] dq, float[] dk, float[] dv) {
        // dv += pᵀ·dout
        KERNELS.gemm(p, true, dout, true, nk, nq, d, dv, true);
        // dp = dout·vᵀ, then the softmax backward: ds = p ⊙ (dp − Σ p·dp) · scale
        float[] ds = new float[nq * nk];
        KERNELS.matmul(dout, nq, Tensor.ofFloats("v", v, nk, d), null, ds);
        float scale = (float) (1 / Math.sqrt(d));
        for (int i = 0; i < nq; i++) {
            int row = i * nk;
            double dot = 0;
            for (int j = 0; j < nk; j++) {
                dot += (double) p[row + j] * ds[row + j];
            }
            for (int j = 0; j < nk; j++) {
                ds[row + j] = (float) (p[row + j] * (ds[row + j] - dot)) * scale;
            }
        }
        // dq += ds·k, dk += dsᵀ·q
        KERNELS.gemm(ds, false, k, true, nq, nk, d, dq, true);
        KERNELS.gemm(ds, true, q, true, nk, nq, d, dk, true);
    }

    // ---- patch convolution: a stride-p convolution is a linear map of unfolded patches ----

    /** Unfolds {@code [C, S, S]} pixels into {@code [G², C·p·p]} patch rows (raster order, (c, ky, kx) within). */
    public static float[] unfold(float[] pixels, int channels, int size, int patch) {
        int g = size / patch;
        int row = channels * patch * patch;
        float[] out = new float[g * g * row];
        for (int gy = 0; gy < g; gy++) {
            for (int gx = 0; gx < g; gx++) {
                for (int c = 0; c < channels; c++) {
                    for (int ky = 0; ky < patch; ky++) {
                        for (int kx = 0; kx < patch; kx++) {
                            out[(gy * g + gx) * row + (c * patch + ky) * patch + kx] =
                                    pixels[c * size * size + (gy * patch + ky) * size + gx * patch + kx];
                        }
                    }
                }
            }
        }
        return out;
    }

    /** Backward of {@link #unfold}: adds patch-row gradients back onto the pixels they came from. */
    public static void unfoldBackward(float[] dpatches, int channels, int size, int patch, float[] dpixels) {
        int g = size / patch;
        int row = channels * patch * patch;
        for (int gy = 0; gy < g; gy++) {
            for (int gx = 0; gx < g; gx++) {
                for (int c = 0; c < channels; c++) {
                    for (int ky = 0; ky < patch; ky++) {
                        for (int kx = 0; kx < patch; kx++) {
                            dpixels[c * size * size + (gy * patch + ky) * size + gx * patch + kx] +=
                                    dpatches[(gy * g + gx) * row + (c * patch + ky) * patch + kx];
                        }
                    }
                }
            }
        }
    }

    // ---- visual-expert routing: rows gathered per expert and scattered back ----

    /** Copies the listed rows of {@code x [*, d]} into a block. */
    public static float[] gatherRows(float[] x, int d, int[] rows) {
        float[] out = new float[rows.length * d];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(x, rows[i] * d, out, i * d, d);
        }
        return out;
    }

    /** Backward of {@link #gatherRows} (and the forward of the scatter): adds block rows onto the listed rows. */
    public static void scatterAddRows(float[] block, int d, int[] rows, float[] dst) {
        for (int i = 0; i < rows.length; i++) {
            for (int t = 0; t < d; t++) {
                dst[rows[i] * d + t] += block[i * d + t];
            }
        }
    }

    // ---- embedding and loss ----

    /** Gathers rows of {@code table [V, d]}. */
    public static void embedding(float[] table, int d, int[] ids, float[] y) {
        for (int i = 0; i < ids.length; i++) {
            System.arraycopy(table, ids[i] * d, y, i * d, d);
        }
    }

    /** Backward of {@link #embedding}: scatter-add into the rows used. */
    public static void embeddingBackward(int d, int[] ids, float[] dy, float[] dtable) {
        for (int i = 0; i < ids.length; i++) {
            for (int t = 0; t < d; t++) {
                dtable[ids[i] * d + t] += dy[i * d + t];
            }
        }
    }

    /**
     * A standard normal draw: Box-Muller from the splittable generator (two {@code nextDouble} calls), so weights and
     * noise are reproducible from the seed alone.
     */
    public static double gaussian(SplittableRandom r) {
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** The largest of {@code z[at .. at + m)}. */
    private static double rowMax(float[] z, int at, int m) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < m; j++) {
            max = Math.max(max, z[at + j]);
        }
        return max;
    }

    /** {@code Σ exp(z[at + j] - max)} over the row, in order. */
    private static double sumExp(float[] z, int at, int m, double max) {
        double sum = 0;
        for (int j = 0; j < m; j++) {
            sum += Math.exp(z[at + j] - max);
        }
        return sum;
    }

    /**
     * Cross-entropy of one row of logits {@code z[at .. at + m)} against a target distribution {@code q} (summing to
     * 1): {@code -Σ q log softmax(z)}. Writes its gradient, {@code softmax(z) - q}, into {@code dz} at the same
     * offset and returns the loss.
     */
    public static double softCrossEntropy(float[] z, int at, int m, double[] q, float[] dz) {
        double max = rowMax(z, at, m);
        double logZ = max + Math.log(sumExp(z, at, m, max));
        double loss = 0;
        for (int j = 0; j < m; j++) {
            loss -= q[j] * (z[at + j] - logZ);
            dz[at + j] = (float) (Math.exp(z[at + j] - logZ) - q[j]);
        }
        return loss;
    }

    /**
     * Mean cross-entropy of {@code logits [n, V]} against {@code targets} over the positions where
     * {@code mask} is true (the answer tokens); writes {@code dlogits} and returns the loss.
     */
    public static double crossEntropy(float[] logits, int n, int vocab, int[] targets, boolean[] mask, float[] dlogits) {
        int count = 0;
        for (boolean b : mask) {
            count += b ? 1 : 0;
        }
        java.util.Arrays.fill(dlogits, 0, n * vocab, 0f);
        if (count == 0) {
            return 0;
        }
        double loss = 0;
        for (int i = 0; i < n; i++) {
            if (!mask[i]) {
                continue;
            }
            int o = i * vocab;
            double max = rowMax(logits, o, vocab);
            double sum = sumExp(logits, o, vocab, max);
            loss += Math.log(sum) + max - logits[o + targets[i]];
            for (int j = 0; j < vocab; j++) {
                dlogits[o + j] = (float) (Math.exp(logits[o + j] - max) / sum / count);
            }
            dlogits[o + targets[i]] -= 1f / count;
        }
        return loss / count;
    }
}
