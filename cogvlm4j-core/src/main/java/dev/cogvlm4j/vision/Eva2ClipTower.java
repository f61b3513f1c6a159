package dev.cogvlm4j.vision;

import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.Family;
import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;

/**
 * The EVA2-CLIP-E image encoder ({@code model.vision.*}) with the GLU adapter that maps its patches into the
 * language model's width, between the learned {@code boi} and {@code eoi} embeddings.
 *
 * <p>Its layers put the LayerNorm on the branch output ({@code x + LN(Attn(x))}), not on the branch input as most
 * ViTs do; the reference was trained that way.
 */
public final class Eva2ClipTower {
    private static final String P = "model.vision.";
    /** The adapter's LayerNorm uses torch's default epsilon, not the tower's. */
    private static final float ADAPTER_LN_EPS = 1e-5f;
    /**
     * Most rows per block through the MLP, bounding the size of its widest activation (2,048 × 15,360 floats, 126 MB,
     * for EVA2-CLIP-E). Blocks are of equal size: every block repacks the MLP's weights, so a small remainder block
     * (202 rows of a 490 px image after a block of 1,024) would pay a whole repacking for a sixth of the work.
     */
    private static final int MLP_ROWS = 2048;

    private final Kernels k = Kernels.get();
    private final CogVlmConfig config;
    private final CogVlmConfig.Vision v;

    private final Tensor patchEmbeddingProj;
    private final float[] patchEmbeddingProjBias;
    private final float[] clsEmbedding;
    private final Tensor positionEmbedding;
    private final TransformerLayer[] layers;
    /** CogAgent adds a second learned position table to the patches after the transformer. */
    private final Tensor posEmbed;
    /** CogVLM2 halves the patch grid with a 2x2 stride-2 convolution. */
    private final Tensor conv;
    private final float[] convBias;
    private final GluAdapter linearProj;
    private final float[] boi;
    private final float[] eoi;

    private record TransformerLayer(Tensor queryKeyValue, float[] queryKeyValueBias, Tensor dense, float[] denseBias,
                                    float[] inputLayernormWeight, float[] inputLayernormBias, Tensor fc1,
                                    float[] fc1Bias, Tensor fc2, float[] fc2Bias, float[] postAttentionLayernormWeight,
                                    float[] postAttentionLayernormBias) {
    }

    /** {@code linear_proj}: Linear, LayerNorm, GELU, then a SwiGLU block of the language model's width. */
    private record GluAdapter(Tensor linearProj, float[] norm1Weight, float[] norm1Bias, Tensor gateProj,
                              Tensor denseHTo4h, Tensor dense4hToH) {
    }

    /** Binds the tower's weights from the checkpoint, checking each shape against the configuration. */
    public Eva2ClipTower(Checkpoint ckpt, CogVlmConfig config) {
        this.config = config;
        this.v = config.vision();
        int w = v.hiddenSize();
        int p = v.patchSize();
        int g = v.grid();
        int h = config.hiddenSize();
        int inter = config.intermediateSize();
        patchEmbeddingProj = ckpt.tensor(P + "patch_embedding.proj.weight", w, 3, p, p);
        patchEmbeddingProjBias = ckpt.floats(P + "patch_embedding.proj.bias", w);
        clsEmbedding = ckpt.floats(P + "patch_embedding.cls_embedding", 1, w);
        positionEmbedding = ckpt.tensor(P + "patch_embedding.position_embedding.weight", g * g + 1, w);
        layers = new TransformerLayer[v.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            String l = P + "transformer.layers." + i + ".";
            layers[i] = new TransformerLayer(
                    ckpt.tensor(l + "attention.query_key_value.weight", 3L * w, w),
                    ckpt.floats(l + "attention.query_key_value.bias", 3L * w),
                    ckpt.tensor(l + "attention.dense.weight", w, w),
                    ckpt.floats(l + "attention.dense.bias", w),
                    ckpt.floats(l + "input_layernorm.weight", w),
                    ckpt.floats(l + "input_layernorm.bias", w),
                    ckpt.tensor(l + "mlp.fc1.weight", v.intermediateSize(), w),
                    ckpt.floats(l + "mlp.fc1.bias", v.intermediateSize()),
                    ckpt.tensor(l + "mlp.fc2.weight", w, v.intermediateSize()),
                    ckpt.floats(l + "mlp.fc2.bias", w),
                    ckpt.floats(l + "post_attention_layernorm.weight", w),
                    ckpt.floats(l + "post_attention_layernorm.bias", w));
        }
        posEmbed = config.family() == Family.COGAGENT ? ckpt.tensor(P + "pos_embed", g * g, w) : null;
        if (config.family() == Family.COGVLM2) {
            conv = ckpt.tensor(P + "conv.weight", w, w, 2, 2);
            convBias = ckpt.floats(P + "conv.bias", w);
        } else {
            conv = null;
            convBias = null;
        }
        linearProj = new GluAdapter(
                ckpt.tensor(P + "linear_proj.linear_proj.weight", h, w),
                ckpt.floats(P + "linear_proj.norm1.weight", h),
                ckpt.floats(P + "linear_proj.norm1.bias", h),
                ckpt.tensor(P + "linear_proj.gate_proj.weight", inter, h),
                ckpt.tensor(P + "linear_proj.dense_h_to_4h.weight", inter, h),
                ckpt.tensor(P + "linear_proj.dense_4h_to_h.weight", h, inter));
        boi = ckpt.floats(P + "boi", 1, 1, h);
        eoi = ckpt.floats(P + "eoi", 1, 1, h);
    }

    /** Every matrix the tower reads, for releasing their pages after an image is encoded. */
    java.util.List<Tensor> matrices() {
        java.util.List<Tensor> out = new java.util.ArrayList<>(java.util.List.of(patchEmbeddingProj, positionEmbedding,
                linearProj.linearProj(), linearProj.gateProj(), linearProj.denseHTo4h(), linearProj.dense4hToH()));
        for (TransformerLayer l : layers) {
            out.addAll(java.util.List.of(l.queryKeyValue(), l.dense(), l.fc1(), l.fc2()));
        }
        if (posEmbed != null) {
            out.add(posEmbed);
        }
        if (conv != null) {
            out.add(conv);
        }
        return out;
    }

    /** Drops the tower's mapped weights from resident memory (the language model needs the room next). */
    public void releaseWeights() {
        matrices().forEach(Tensor::unload);
    }

    /**
     * Encodes normalised pixels {@code [3, S, S]} into the image embeddings {@code [n + 2, H]}: boi, the n patch
     * features, eoi.
     */
    public float[] forward(float[] pixelValues) {
        int w = v.hiddenSize();
        int g = v.grid();
        int patches = g * g;
        int len = patches + 1;

        // Patch embedding: a stride-p convolution as one multiply over unfolded patches, cls first.
        float[] unfolded = Patches.unfoldImage(pixelValues, 3, v.imageSize(), v.patchSize());
        float[] x = new float[len * w];
        float[] patchOut = new float[patches * w];
        k.matmul(unfolded, patches, patchEmbeddingProj, patchEmbeddingProjBias, patchOut);
        System.arraycopy(clsEmbedding, 0, x, 0, w);
        System.arraycopy(patchOut, 0, x, w, patches * w);
        float[] pos = positionEmbedding.toFloatArray();
        k.add(x, pos, len * w);

        long t0 = System.nanoTime();
        for (TransformerLayer layer : layers) {
            transformerLayer(layer, x, len);
        }
        dev.cogvlm4j.model.Timings.VISION_LAYERS.addAndGet(System.nanoTime() - t0);

        // Drop cls.
        float[] feats = new float[patches * w];
        System.arraycopy(x, w, feats, 0, patches * w);
        int n = patches;
        if (posEmbed != null) {
            k.add(feats, posEmbed.toFloatArray(), patches * w);
        }
        if (conv != null) {
            float[] blocks = Patches.unfoldGrid2x2(feats, g, w);
            n = (g / 2) * (g / 2);
            feats = new float[n * w];
            k.matmul(blocks, n, conv, convBias, feats);
        }

        float[] adapted = adapter(feats, n);
        int h = config.hiddenSize();
        float[] out = new float[(n + 2) * h];
        System.arraycopy(boi, 0, out, 0, h);
        System.arraycopy(adapted, 0, out, h, n * h);
        System.arraycopy(eoi, 0, out, (n + 1) * h, h);
        return out;
    }

    private void transformerLayer(TransformerLayer l, float[] x, int len) {
        int w = v.hiddenSize();
        int heads = v.numHeads();
        int d = w / heads;
        float[] qkv = new float[len * 3 * w];
        k.matmul(x, len, l.queryKeyValue(), l.queryKeyValueBias(), qkv);
        float[] ctx = new float[len * w];
        k.attention(qkv, 0, 3 * w, qkv, w, qkv, 2 * w, 3 * w, ctx, len, len, heads, heads, d,
                (float) (1.0 / Math.sqrt(d)), false, 0);
        float[] attn = new float[len * w];
        k.matmul(ctx, len, l.dense(), l.denseBias(), attn);
        k.layerNorm(attn, len, w, l.inputLayernormWeight(), l.inputLayernormBias(), v.layerNormEps(), attn);
        k.add(x, attn, len * w);

        int inter = v.intermediateSize();
        int blocks = (len + MLP_ROWS - 1) / MLP_ROWS;
        int perBlock = (len + blocks - 1) / blocks;
        for (int r0 = 0; r0 < len; r0 += perBlock) {
            int rows = Math.min(perBlock, len - r0);
            float[] xi = new float[rows * w];
            System.arraycopy(x, r0 * w, xi, 0, rows * w);
            float[] hidden = new float[rows * inter];
            k.matmul(xi, rows, l.fc1(), l.fc1Bias(), hidden);
            k.gelu(hidden, rows * inter);
            float[] out = new float[rows * w];
            k.matmul(hidden, rows, l.fc2(), l.fc2Bias(), out);
            k.layerNorm(out, rows, w, l.postAttentionLayernormWeight(), l.postAttentionLayernormBias(),
                    v.layerNormEps(), out);
            for (int i = 0; i < rows * w; i++) {
                x[r0 * w + i] += out[i];
            }
        }
    }

    private float[] adapter(float[] feats, int n) {
        int h = config.hiddenSize();
        int inter = config.intermediateSize();
        float[] x = new float[n * h];
        k.matmul(feats, n, linearProj.linearProj(), null, x);
        k.layerNorm(x, n, h, linearProj.norm1Weight(), linearProj.norm1Bias(), ADAPTER_LN_EPS, x);
        k.gelu(x, n * h);
        float[] gate = new float[n * inter];
        float[] up = new float[n * inter];
        k.matmul(x, n, linearProj.gateProj(), null, gate);
        k.matmul(x, n, linearProj.denseHTo4h(), null, up);
        k.siluGate(gate, up, n * inter);
        float[] out = new float[n * h];
        k.matmul(gate, n, linearProj.dense4hToH(), null, out);
        return out;
    }
}
