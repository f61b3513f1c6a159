package dev.cogvlm4j.model;

import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;

/**
 * One decoder layer ({@code model.layers.N.*}) with its visual expert: every layer holds two copies of the
 * attention projections and the MLP, one trained for image tokens and one (the frozen language model's) for text.
 * Attention itself runs over all tokens together, so image and text still see each other.
 */
final class DecoderLayer {
    /** The weights of one expert: fused QKV, attention output, SwiGLU MLP. */
    record Expert(Tensor queryKeyValue, float[] queryKeyValueBias, Tensor dense, Tensor gateProj, Tensor upProj,
                  Tensor downProj) {
    }

    /** CogAgent's cross-attention from text and image tokens to the high-resolution features. */
    record CrossAttention(float[] postCrossAttentionLayernorm, Tensor query, Tensor keyValue, Tensor dense) {
    }

    private final Kernels k = Kernels.get();
    private final CogVlmConfig c;
    private final int index;
    final float[] inputLayernorm;
    final float[] postAttentionLayernorm;
    final Expert languageExpert;
    final Expert visionExpert;
    final CrossAttention crossAttn;

    DecoderLayer(Checkpoint ckpt, CogVlmConfig c, int index) {
        this.c = c;
        this.index = index;
        String p = "model.layers." + index + ".";
        int h = c.hiddenSize();
        int q = c.qkvSize();
        int inter = c.intermediateSize();
        inputLayernorm = ckpt.floats(p + "input_layernorm.weight", h);
        postAttentionLayernorm = ckpt.floats(p + "post_attention_layernorm.weight", h);
        // CogVLM2 gives only the vision expert's QKV a bias.
        String vb = p + "self_attn.vision_expert_query_key_value.bias";
        visionExpert = new Expert(
                ckpt.tensor(p + "self_attn.vision_expert_query_key_value.weight", q, h),
                ckpt.has(vb) ? ckpt.floats(vb, q) : null,
                ckpt.tensor(p + "self_attn.vision_expert_dense.weight", h, h),
                ckpt.tensor(p + "mlp.vision_mlp.gate_proj.weight", inter, h),
                ckpt.tensor(p + "mlp.vision_mlp.up_proj.weight", inter, h),
                ckpt.tensor(p + "mlp.vision_mlp.down_proj.weight", h, inter));
        String lb = p + "self_attn.language_expert_query_key_value.bias";
        languageExpert = new Expert(
                ckpt.tensor(p + "self_attn.language_expert_query_key_value.weight", q, h),
                ckpt.has(lb) ? ckpt.floats(lb, q) : null,
                ckpt.tensor(p + "self_attn.language_expert_dense.weight", h, h),
                ckpt.tensor(p + "mlp.language_mlp.gate_proj.weight", inter, h),
                ckpt.tensor(p + "mlp.language_mlp.up_proj.weight", inter, h),
                ckpt.tensor(p + "mlp.language_mlp.down_proj.weight", h, inter));
        if (c.cross() != null) {
            int cc = c.cross().computeHiddenSize();
            crossAttn = new CrossAttention(
                    ckpt.floats(p + "post_cross_attention_layernorm.weight", h),
                    ckpt.tensor(p + "cross_attn.query.weight", cc, h),
                    ckpt.tensor(p + "cross_attn.key_value.weight", 2L * cc, c.cross().hiddenSize()),
                    ckpt.tensor(p + "cross_attn.dense.weight", h, cc));
        } else {
            crossAttn = null;
        }
    }

    /**
     * Runs {@code n} new tokens through the layer, updating {@code hidden [n, H]} in place and appending their
     * keys and values to the cache at index {@code past}.
     */
    void forward(float[] hidden, int n, Routing routing, int[] positions, RotaryEmbedding rope, KvCache cache,
                 int past) {
        int h = c.hiddenSize();
        int heads = c.numHeads();
        int kvHeads = c.numKvHeads();
        int d = c.headDim();
        int kvDim = kvHeads * d;
        int qkvSize = c.qkvSize();

        float[] x = new float[n * h];
        k.rmsNorm(hidden, n, h, inputLayernorm, c.rmsNormEps(), x);
        float[] qkv = new float[n * qkvSize];
        routedLinear(x, n, h, routing, visionExpert.queryKeyValue(), visionExpert.queryKeyValueBias(),
                languageExpert.queryKeyValue(), languageExpert.queryKeyValueBias(), qkv, qkvSize);

        // Rotary positions come from position ids, not sequence indices: all patches of an image share one.
        float[] cos = new float[d];
        float[] sin = new float[d];
        float[] keys = cache.keys(index);
        float[] values = cache.values(index);
        for (int i = 0; i < n; i++) {
            rope.table(positions[i], cos, sin);
            int o = i * qkvSize;
            k.rotary(qkv, o, heads, d, cos, sin, 0, false);
            k.rotary(qkv, o + h, kvHeads, d, cos, sin, 0, false);
            System.arraycopy(qkv, o + h, keys, (past + i) * kvDim, kvDim);
            System.arraycopy(qkv, o + h + kvDim, values, (past + i) * kvDim, kvDim);
        }
        float[] ctx = new float[n * h];
        k.attention(qkv, 0, qkvSize, keys, 0, values, 0, kvDim, ctx, n, past + n, heads, kvHeads, d,
                (float) (1.0 / Math.sqrt(d)), true, past);
        float[] attn = new float[n * h];
        routedLinear(ctx, n, h, routing, visionExpert.dense(), null, languageExpert.dense(), null, attn, h);
        k.add(hidden, attn, n * h);

        if (crossAttn != null) {
            k.rmsNorm(hidden, n, h, crossAttn.postCrossAttentionLayernorm(), c.rmsNormEps(), x);
            float[] co = crossAttention(x, n, cache);
            k.add(hidden, co, n * h);
        }

        k.rmsNorm(hidden, n, h, postAttentionLayernorm, c.rmsNormEps(), x);
        float[] out = new float[n * h];
        mlp(x, n, routing.visionRows, visionExpert, out);
        mlp(x, n, routing.languageRows, languageExpert, out);
        k.add(hidden, out, n * h);
    }

    /** Applies each expert's linear map to its own rows. */
    private void routedLinear(float[] x, int n, int in, Routing r, Tensor wv, float[] bv, Tensor wl, float[] bl,
                              float[] out, int outDim) {
        linearRows(x, n, in, r.visionRows, wv, bv, out, outDim);
        linearRows(x, n, in, r.languageRows, wl, bl, out, outDim);
    }

    private void linearRows(float[] x, int n, int in, int[] rows, Tensor w, float[] b, float[] out, int outDim) {
        if (rows.length == 0) {
            return;
        }
        float[] xs = Routing.gather(x, in, rows, n);
        float[] ys = rows.length == n ? out : new float[rows.length * outDim];
        k.matmul(xs, rows.length, w, b, ys);
        Routing.scatter(ys, outDim, rows, out);
    }

    private void mlp(float[] x, int n, int[] rows, Expert e, float[] out) {
        if (rows.length == 0) {
            return;
        }
        int h = c.hiddenSize();
        int inter = c.intermediateSize();
        float[] xs = Routing.gather(x, h, rows, n);
        float[] gate = new float[rows.length * inter];
        float[] up = new float[rows.length * inter];
        k.matmul(xs, rows.length, e.gateProj(), null, gate);
        k.matmul(xs, rows.length, e.upProj(), null, up);
        k.siluGate(gate, up, rows.length * inter);
        float[] ys = rows.length == n ? out : new float[rows.length * h];
        k.matmul(gate, rows.length, e.downProj(), null, ys);
        Routing.scatter(ys, h, rows, out);
    }

    /** Keys and values of the cross features, computed once per image and kept in the cache. */
    void prepareCross(float[] crossFeatures, int m, KvCache cache) {
        int cc = c.cross().computeHiddenSize();
        float[] kv = new float[m * 2 * cc];
        k.matmul(crossFeatures, m, crossAttn.keyValue(), null, kv);
        cache.crossKeyValues[index] = kv;
    }

    private float[] crossAttention(float[] x, int n, KvCache cache) {
        int cc = c.cross().computeHiddenSize();
        int heads = c.numHeads();
        int d = cc / heads;
        float[] q = new float[n * cc];
        k.matmul(x, n, crossAttn.query(), null, q);
        float[] kv = cache.crossKeyValues[index];
        float[] ctx = new float[n * cc];
        // Keys are the first cc columns of key_value's output, values the next cc; no mask, no rotary.
        k.attention(q, 0, cc, kv, 0, kv, cc, 2 * cc, ctx, n, cache.crossLength, heads, heads, d,
                (float) (1.0 / Math.sqrt(d)), false, 0);
        float[] out = new float[n * c.hiddenSize()];
        k.matmul(ctx, n, crossAttn.dense(), null, out);
        return out;
    }
}
