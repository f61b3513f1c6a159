package dev.cogvlm4j.tensor;

/**
 * Attention for many query rows (prefill, vision towers) as matrix multiplies on the packed GEMM kernel: per head,
 * the keys and values are copied out once ({@code K_h} rows and {@code V_hᵀ}), then blocks of {@link #QB} queries
 * compute their scores {@code Q·K_hᵀ}, a row-wise softmax, and {@code P·V_h}. Only one block of scores exists at a
 * time ({@code QB × m} floats), never the full {@code n × m} matrix: 9,217 tower tokens need 9 MB, not 340 MB.
 */
final class BlockedAttention {
    /** Query rows per block of scores. */
    static final int QB = 256;

    private BlockedAttention() {
    }

    static void run(float[] q, int qOff, int qStride, float[] k, int kOff, float[] v, int vOff, int kvStride,
                    float[] out, int n, int m, int heads, int kvHeads, int d, float scale, boolean causal, int past) {
        int group = heads / kvHeads;
        // Heads run in parallel; the multiplies inside a head then run on the calling worker.
        Parallel.range(heads, h -> {
            int g = h / group;
            float[] kh = new float[m * d];
            float[] vt = new float[d * m];
            for (int j = 0; j < m; j++) {
                System.arraycopy(k, kOff + j * kvStride + g * d, kh, j * d, d);
                int vo = vOff + j * kvStride + g * d;
                for (int t = 0; t < d; t++) {
                    vt[t * m + j] = v[vo + t];
                }
            }
            Tensor keys = Tensor.ofFloats("keys", kh, m, d);
            Tensor valuesT = Tensor.ofFloats("values", vt, d, m);
            for (int i0 = 0; i0 < n; i0 += QB) {
                int rows = Math.min(QB, n - i0);
                // Causal blocks only need keys up to their last row.
                int keys0 = causal ? Math.min(m, past + i0 + rows) : m;
                float[] qb = new float[rows * d];
                for (int i = 0; i < rows; i++) {
                    System.arraycopy(q, qOff + (i0 + i) * qStride + h * d, qb, i * d, d);
                }
                // Causal blocks read a prefix of the keys: a view, not a copy.
                Tensor kView = keys0 == m ? keys : Tensor.of("keys", DType.F32, new long[]{keys0, d},
                        java.lang.foreign.MemorySegment.ofArray(kh).asSlice(0, 4L * keys0 * d));
                float[] sBlock = new float[rows * keys0];
                Gemm.matmul(qb, rows, kView, null, sBlock);
                float[] p = new float[rows * m];
                for (int i = 0; i < rows; i++) {
                    int limit = causal ? Math.min(keys0, past + i0 + i + 1) : keys0;
                    Activations.softmax(sBlock, i * keys0, scale, limit, p, i * m);
                }
                float[] o = new float[rows * d];
                Gemm.matmul(p, rows, valuesT, null, o);
                for (int i = 0; i < rows; i++) {
                    System.arraycopy(o, i * d, out, (i0 + i) * heads * d + h * d, d);
                }
            }
        });
    }
}
