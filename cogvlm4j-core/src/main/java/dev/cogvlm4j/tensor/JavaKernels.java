package dev.cogvlm4j.tensor;


/** Pure-Java kernels: Vector API dot products, rows spread over the common fork-join pool. */
final class JavaKernels implements Kernels {
    static final JavaKernels INSTANCE = new JavaKernels();

    /** Below this many activation rows the matrix-vector path (dot products in the stored type) wins. */
    static final int DOT_MIN_ROWS = 4;
    /** Below this many rows, widening each weight row once beats packing transposed panels. */
    static final int GEMM_MIN_ROWS = 64;
    /** From this many query rows on, attention runs as blocked matrix multiplies. */
    static final int BLOCKED_ATTENTION_ROWS = 32;

    private JavaKernels() {
    }

    @Override
    public void matmul(float[] x, int n, Tensor w, float[] bias, float[] out) {
        int m = w.rows();
        int k = w.cols();
        if (x.length < (long) n * k || out.length < (long) n * m) {
            throw new IllegalArgumentException("matmul " + w.name() + ": buffers too small for n=" + n);
        }
        // Few rows (decoding) are bound by reading the weights: one pass over them in their stored type.
        // Many rows (prefill, vision) are bound by arithmetic: widen a panel once, reuse it for every row.
        if (n < DOT_MIN_ROWS) {
            Gemm.gemv(x, n, w, bias, out);
        } else if (n < GEMM_MIN_ROWS) {
            Gemm.rows(x, n, w, bias, out);
        } else {
            Gemm.matmul(x, n, w, bias, out);
        }
    }

    @Override
    public void gemm(float[] a, boolean aTransposed, float[] b, boolean bTransposed, int n, int k, int m, float[] c,
                     boolean accumulate) {
        if (n < 0 || k < 0 || m < 0) {
            throw new IllegalArgumentException("gemm: negative size " + n + "x" + k + "x" + m);
        }
        if (a.length < (long) n * k || b.length < (long) m * k || c.length < (long) n * m) {
            throw new IllegalArgumentException("gemm: buffers too small for " + n + "x" + k + "x" + m);
        }
        Gemm.gemm(a, aTransposed, b, bTransposed, n, k, m, c, accumulate);
    }

    @Override
    public void geluBackward(float[] x, float[] dy, float[] dx, int len) {
        Activations.geluBackward(x, dy, dx, len);
    }

    @Override
    public void siluGateBackward(float[] g, float[] u, float[] dy, float[] dg, float[] du, int len) {
        Activations.siluGateBackward(g, u, dy, dg, du, len);
    }

    @Override
    public void rmsNorm(float[] x, int n, int dim, float[] weight, float eps, float[] out) {
        forRows(n, dim, r -> {
            int o = r * dim;
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                ss += (double) x[o + i] * x[o + i];
            }
            float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
            for (int i = 0; i < dim; i++) {
                out[o + i] = weight[i] * (x[o + i] * inv);
            }
        });
    }

    @Override
    public void layerNorm(float[] x, int n, int dim, float[] weight, float[] bias, float eps, float[] out) {
        forRows(n, dim, r -> {
            int o = r * dim;
            double mean = 0;
            for (int i = 0; i < dim; i++) {
                mean += x[o + i];
            }
            mean /= dim;
            double var = 0;
            for (int i = 0; i < dim; i++) {
                double c = x[o + i] - mean;
                var += c * c;
            }
            var /= dim;
            double inv = 1.0 / Math.sqrt(var + eps);
            for (int i = 0; i < dim; i++) {
                out[o + i] = (float) ((x[o + i] - mean) * inv) * weight[i] + bias[i];
            }
        });
    }

    /** Runs {@code body} for each of {@code n} rows of {@code dim}, in parallel blocks of rows when there are many. */
    private static void forRows(int n, int dim, java.util.function.IntConsumer body) {
        Parallel.ranges(n, Math.max(1, (1 << 15) / Math.max(1, dim)), 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                body.accept(r);
            }
        });
    }

    @Override
    public void gelu(float[] x, int len) {
        Activations.gelu(x, len);
    }

    @Override
    public void siluGate(float[] gate, float[] up, int len) {
        Activations.siluGate(gate, up, len);
    }

    @Override
    public void add(float[] y, float[] x, int len) {
        for (int i = 0; i < len; i++) {
            y[i] += x[i];
        }
    }

    @Override
    public void addRow(float[] y, int n, int dim, float[] row) {
        for (int r = 0; r < n; r++) {
            int o = r * dim;
            for (int i = 0; i < dim; i++) {
                y[o + i] += row[i];
            }
        }
    }

    @Override
    public void rotary(float[] x, int off, int heads, int headDim, float[] cos, float[] sin, int csOff,
                       boolean interleaved) {
        for (int h = 0; h < heads; h++) {
            int b = off + h * headDim;
            if (interleaved) {
                for (int i = 0; i < headDim; i += 2) {
                    float x0 = x[b + i];
                    float x1 = x[b + i + 1];
                    x[b + i] = x0 * cos[csOff + i] - x1 * sin[csOff + i];
                    x[b + i + 1] = x1 * cos[csOff + i + 1] + x0 * sin[csOff + i + 1];
                }
            } else {
                int half = headDim / 2;
                for (int i = 0; i < half; i++) {
                    float x1 = x[b + i];
                    float x2 = x[b + i + half];
                    x[b + i] = x1 * cos[csOff + i] - x2 * sin[csOff + i];
                    x[b + i + half] = x2 * cos[csOff + i + half] + x1 * sin[csOff + i + half];
                }
            }
        }
    }

    /** Each pool thread's score row for decode attention, grown to the longest context seen, never per call. */
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[256]);

    private static float[] scratch(int n) {
        float[] s = SCORES.get();
        if (s.length < n) {
            s = new float[Math.max(n, 2 * s.length)];
            SCORES.set(s);
        }
        return s;
    }

    @Override
    public void attention(float[] q, int qOff, int qStride, float[] k, int kOff, float[] v, int vOff, int kvStride,
                          float[] out, int n, int m, int heads, int kvHeads, int d, float scale, boolean causal,
                          int past) {
        if (n >= BLOCKED_ATTENTION_ROWS) {
            BlockedAttention.run(q, qOff, qStride, k, kOff, v, vOff, kvStride, out, n, m, heads, kvHeads, d, scale,
                    causal, past);
            return;
        }
        int group = heads / kvHeads;
        // Keys four at a time when a head is whole vectors: four independent sums share each load of the query,
        // and each output vector is loaded and stored once per four values, not once per value.
        boolean wholeVectors = d % VectorOps.F.length() == 0;
        // One query row and head at a time: its scores over all keys fit in a small scratch row, so memory stays
        // O(m) per thread.
        Parallel.range(n * heads, t -> {
            int i = t / heads;
            int h = t % heads;
            int g = h / group;
            int limit = causal ? Math.min(m, past + i + 1) : m;
            float[] scores = scratch(limit);
            int qo = qOff + i * qStride + h * d;
            int byFour = wholeVectors ? limit - limit % 4 : 0;
            int j = 0;
            for (; j < byFour; j += 4) {
                VectorOps.dot4(q, qo, k, kOff + j * kvStride + g * d, kvStride, d, scores, j);
            }
            for (; j < limit; j++) {
                scores[j] = VectorOps.dot(q, qo, k, kOff + j * kvStride + g * d, d);
            }
            Activations.softmax(scores, 0, scale, limit, scores, 0);
            int oo = i * heads * d + h * d;
            java.util.Arrays.fill(out, oo, oo + d, 0f);
            for (j = 0; j < byFour; j += 4) {
                VectorOps.axpy4(scores, j, v, vOff + j * kvStride + g * d, kvStride, out, oo, d);
            }
            for (; j < limit; j++) {
                VectorOps.axpy(scores[j], v, vOff + j * kvStride + g * d, out, oo, d);
            }
        });
    }
}
