package dev.cogvlm4j.tensor;

/**
 * Attention for many query rows (prefill, vision towers) as matrix multiplies on the packed GEMM kernel: per head,
 * the keys and values are copied out once as rows ({@code K_h}, {@code V_h}), then blocks of {@link #QB} queries
 * compute their scores {@code Q·K_hᵀ}, a row-wise softmax, and {@code P·V_h} (the values' rows are the GEMM's
 * transposed operand, packed by copying runs, so they are never transposed in memory). Only one block of scores
 * exists at a time ({@code QB × m} floats), never the full {@code n × m} matrix: 9,217 tower tokens need 9 MB, not
 * 340 MB.
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
            float[] vh = new float[m * d];
            for (int j = 0; j < m; j++) {
                System.arraycopy(k, kOff + j * kvStride + g * d, kh, j * d, d);
                System.arraycopy(v, vOff + j * kvStride + g * d, vh, j * d, d);
            }
            for (int i0 = 0; i0 < n; i0 += QB) {
                int rows = Math.min(QB, n - i0);
                // Causal blocks only need keys up to their last row: the first keys0 rows of K_h.
                int keys0 = causal ? Math.min(m, past + i0 + rows) : m;
                float[] qb = new float[rows * d];
                for (int i = 0; i < rows; i++) {
                    System.arraycopy(q, qOff + (i0 + i) * qStride + h * d, qb, i * d, d);
                }
                float[] sBlock = new float[rows * keys0];
                Gemm.gemm(qb, false, kh, false, rows, d, keys0, sBlock, false);
                // Probabilities past a row's causal limit stay zero; keys past keys0 are not multiplied at all.
                float[] p = new float[rows * keys0];
                for (int i = 0; i < rows; i++) {
                    int limit = causal ? Math.min(keys0, past + i0 + i + 1) : keys0;
                    Activations.softmax(sBlock, i * keys0, scale, limit, p, i * keys0);
                }
                float[] o = new float[rows * d];
                Gemm.gemm(p, false, vh, true, rows, keys0, d, o, false);
                for (int i = 0; i < rows; i++) {
                    System.arraycopy(o, i * d, out, (i0 + i) * heads * d + h * d, d);
                }
            }
        });
    }
}
