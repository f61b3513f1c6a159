package dev.cogvlm4j.tensor;

/**
 * The narrow interface between model code and arithmetic. Activations are row-major {@code float[]} blocks of
 * {@code n} rows; weights are {@link Tensor}s read in place. Model code calls only these operators, so a faster
 * provider can replace {@link JavaKernels} without touching the model.
 */
public interface Kernels {

    /** The provider used by the engine. */
    static Kernels get() {
        return JavaKernels.INSTANCE;
    }

    /**
     * {@code out[n, m] = x[n, k] · w[m, k]ᵀ (+ bias[m])}: an {@code nn.Linear}, or a convolution over unfolded
     * patches. {@code bias} may be null.
     */
    void matmul(float[] x, int n, Tensor w, float[] bias, float[] out);

    /**
     * {@code c[n, m] = A · Bᵀ}, or {@code c += A · Bᵀ} with {@code accumulate}, for float blocks: {@code A[i, t]} is
     * {@code a[i·k + t]} ({@code a[t·n + i]} when {@code aTransposed}), {@code B[j, t]} is {@code b[j·k + t]}
     * ({@code b[t·m + j]} when {@code bTransposed}). The products of backward passes (a gradient times a weight,
     * a gradient's transpose times an input) without transposing either operand first.
     */
    void gemm(float[] a, boolean aTransposed, float[] b, boolean bTransposed, int n, int k, int m, float[] c,
              boolean accumulate);

    /** Backward of {@link #gelu}: {@code dx[i] += dy[i] · (Φ(x[i]) + x[i]·φ(x[i]))}. */
    void geluBackward(float[] x, float[] dy, float[] dx, int len);

    /**
     * Backward of {@link #siluGate} ({@code y = silu(g) · u}, σ the logistic function):
     * {@code dg += dy · u · σ(g) · (1 + g · (1 − σ(g)))} and {@code du += dy · silu(g)}.
     */
    void siluGateBackward(float[] g, float[] u, float[] dy, float[] dg, float[] du, int len);

    /** RMSNorm per row: {@code x · rsqrt(mean(x²) + eps) · weight}. {@code out} may be {@code x}. */
    void rmsNorm(float[] x, int n, int dim, float[] weight, float eps, float[] out);

    /** LayerNorm per row with weight and bias. {@code out} may be {@code x}. */
    void layerNorm(float[] x, int n, int dim, float[] weight, float[] bias, float eps, float[] out);

    /** Exact (erf) GELU in place over {@code x[0..len)}. */
    void gelu(float[] x, int len);

    /** SwiGLU gate in place: {@code gate[i] = silu(gate[i]) · up[i]} over {@code len} elements. */
    void siluGate(float[] gate, float[] up, int len);

    /** {@code y[i] += x[i]} over {@code len} elements. */
    void add(float[] y, float[] x, int len);

    /** {@code y[r, :] += row[:]} for each of {@code n} rows of width {@code dim}. */
    void addRow(float[] y, int n, int dim, float[] row);

    /**
     * Rotary embedding on {@code heads} head vectors of width {@code headDim} stored at {@code x[off + h·headDim]}.
     * {@code interleaved=false} rotates halves (Llama: {@code (x1, x2) → (−x2, x1)} over first/second half);
     * {@code true} rotates adjacent pairs (EVA: {@code (x0, x1) → (−x1, x0)}). {@code cos}/{@code sin} hold
     * {@code headDim} values from {@code csOff}.
     */
    void rotary(float[] x, int off, int heads, int headDim, float[] cos, float[] sin, int csOff, boolean interleaved);

    /**
     * Scaled dot-product attention, never materialising the full score matrix.
     *
     * <p>Query row {@code i} (of {@code n}) and head {@code h} read {@code q[qOff + i·qStride + h·d]}; key/value
     * row {@code j} (of {@code m}) and kv head {@code g} read {@code k[kOff + j·kvStride + g·d]} and
     * {@code v[vOff + j·kvStride + g·d]}. Head {@code h} uses kv head {@code h / (heads / kvHeads)} (grouped-query
     * attention). With {@code causal}, query {@code i} sits at absolute index {@code past + i} and sees keys
     * {@code 0..past+i}. Output row {@code i}, head {@code h} goes to {@code out[i·heads·d + h·d]}.
     */
    void attention(float[] q, int qOff, int qStride, float[] k, int kOff, float[] v, int vOff, int kvStride,
                   float[] out, int n, int m, int heads, int kvHeads, int d, float scale, boolean causal, int past);
}
