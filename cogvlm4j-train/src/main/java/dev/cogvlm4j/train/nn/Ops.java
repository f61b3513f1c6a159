package dev.cogvlm4j.train.nn;

import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;

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
     * {@code dx += dy·W}, {@code dW += dyᵀ·x}, {@code db += Σ dy}; any gradient array may be null. The two products
     * run on the same GEMM kernels as inference, after transposing operands so that each is an "x · Wᵀ" product.
     */
    public static void linearBackward(float[] x, int n, int k, float[] w, int m, float[] dy, float[] dx, float[] dw,
                                      float[] db) {
        if (dx != null) {
            float[] t = new float[n * k];
            KERNELS.matmul(dy, n, Tensor.ofFloats("wT", transpose(w, m, k), k, m), null, t);
            addInto(dx, t);
        }
        if (dw != null) {
            float[] t = new float[m * k];
            KERNELS.matmul(transpose(dy, n, m), m, Tensor.ofFloats("xT", transpose(x, n, k), k, n), null, t);
            addInto(dw, t);
        }
        if (db != null) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    db[j] += dy[i * m + j];
                }
            }
        }
    }

    /** {@code a[rows, cols]} transposed to {@code [cols, rows]}. */
    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    private static void addInto(float[] acc, float[] v) {
        for (int i = 0; i < v.length; i++) {
            acc[i] += v[i];
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

    /** Exact (erf) GELU. */
    public static void gelu(float[] x, float[] y, int len) {
        for (int i = 0; i < len; i++) {
            y[i] = (float) (0.5 * x[i] * (1 + erf(x[i] / Math.sqrt(2))));
        }
    }

    /** Backward of {@link #gelu}: {@code Φ(x) + x·φ(x)}. */
    public static void geluBackward(float[] x, float[] dy, float[] dx, int len) {
        for (int i = 0; i < len; i++) {
            double v = x[i];
            double cdf = 0.5 * (1 + erf(v / Math.sqrt(2)));
            double pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
            dx[i] += (float) (dy[i] * (cdf + v * pdf));
        }
    }

    /** SwiGLU gate: {@code y = silu(g) · u}. */
    public static void siluGate(float[] g, float[] u, float[] y, int len) {
        for (int i = 0; i < len; i++) {
            double s = 1 / (1 + Math.exp(-g[i]));
            y[i] = (float) (g[i] * s * u[i]);
        }
    }

    /** Backward of {@link #siluGate}. */
    public static void siluGateBackward(float[] g, float[] u, float[] dy, float[] dg, float[] du, int len) {
        for (int i = 0; i < len; i++) {
            double s = 1 / (1 + Math.exp(-g[i]));
            double silu = g[i] * s;
            dg[i] += (float) (dy[i] * u[i] * s * (1 + g[i] * (1 - s)));
            du[i] += (float) (dy[i] * silu);
        }
    }

    // ---- rotary embedding (first half / second half), by position id ----

    /** Rotates {@code heads} head vectors of each row by its position (Llama's non-interleaved form). */
    public static void rotary(float[] x, int n, int heads, int d, int[] positions, double theta, float[] y,
                              boolean inverse) {
        int half = d / 2;
        for (int r = 0; r < n; r++) {
            for (int i = 0; i < half; i++) {
                double angle = positions[r] / Math.pow(theta, 2.0 * i / d);
                double c = Math.cos(angle);
                double s = inverse ? -Math.sin(angle) : Math.sin(angle);
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
        KERNELS.matmul(p, nq, Tensor.ofFloats("vT", transpose(v, nk, d), d, nk), null, o);
        return p;
    }

    /** Backward of the offset form of {@code attention}, given its probabilities {@code p}; all products on GEMM. */
    public static void attentionBackward(float[] q, float[] k, float[] v, float[] p, int nq, int nk, int d,
                                         float[] dout, float[] dq, float[] dk, float[] dv) {
        // dv += pᵀ·dout
        float[] t = new float[nk * d];
        KERNELS.matmul(transpose(p, nq, nk), nk, Tensor.ofFloats("doutT", transpose(dout, nq, d), d, nq), null, t);
        addInto(dv, t);
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
        float[] tq = new float[nq * d];
        KERNELS.matmul(ds, nq, Tensor.ofFloats("kT", transpose(k, nk, d), d, nk), null, tq);
        addInto(dq, tq);
        float[] tk = new float[nk * d];
        KERNELS.matmul(transpose(ds, nq, nk), nk, Tensor.ofFloats("qT", transpose(q, nq, d), d, nq), null, tk);
        addInto(dk, tk);
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
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) {
                max = Math.max(max, logits[o + j]);
            }
            double sum = 0;
            for (int j = 0; j < vocab; j++) {
                sum += Math.exp(logits[o + j] - max);
            }
            loss += Math.log(sum) + max - logits[o + targets[i]];
            for (int j = 0; j < vocab; j++) {
                dlogits[o + j] = (float) (Math.exp(logits[o + j] - max) / sum / count);
            }
            dlogits[o + targets[i]] -= 1f / count;
        }
        return loss / count;
    }

    private static double erf(double x) {
        return dev.cogvlm4j.tensor.Erf.erf(x);
    }
}
