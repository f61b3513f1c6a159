package dev.cogvlm4j.vision;

import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;

/**
 * CogAgent's high-resolution branch ({@code model.cross_vision.*}): an EVA2-CLIP-L encoder over the 1120 px image
 * whose patch features every decoder layer reads through cross-attention.
 *
 * <p>Unlike the main tower it is pre-norm, rotates queries and keys with a 2-D interleaved rotary embedding, and
 * uses SwiGLU with a LayerNorm inside the MLP. The reference skips its last block and never applies its final norm
 * or head, though the checkpoint stores them.
 */
public final class CrossVisionTower {
    private static final String P = "model.cross_vision.";
    private static final String VIT = P + "vit.model.";
    private static final float LN_EPS = 1e-6f;
    /** EVA's rotary tables are laid out for a 16×16 pretraining grid and interpolated to the real one. */
    private static final int PT_HW_SEQ_LEN = 16;

    private final Kernels k = Kernels.get();
    private final CogVlmConfig.Cross c;
    private final Tensor patchEmbedProj;
    private final float[] patchEmbedProjBias;
    private final float[] clsToken;
    private final Tensor vitPosEmbed;
    private final Block[] blocks;
    private final Tensor posEmbed;
    private final float[] ropeCos;
    private final float[] ropeSin;

    private record Block(float[] norm1Weight, float[] norm1Bias, Tensor qProj, float[] qBias, Tensor kProj,
                         Tensor vProj, float[] vBias, float[] innerAttnLnWeight, float[] innerAttnLnBias, Tensor proj,
                         float[] projBias, float[] norm2Weight, float[] norm2Bias, Tensor w1, float[] w1Bias,
                         Tensor w2, float[] w2Bias, float[] ffnLnWeight, float[] ffnLnBias, Tensor w3,
                         float[] w3Bias) {
    }

    /** Binds the cross tower's weights; the skipped last block is checked to exist but not bound. */
    public CrossVisionTower(Checkpoint ckpt, CogVlmConfig config) {
        this.c = config.cross();
        int w = c.width();
        int g = c.grid();
        int hid = c.mlpHidden();
        int p = CogVlmConfig.Cross.PATCH;
        patchEmbedProj = ckpt.tensor(VIT + "patch_embed.proj.weight", w, 3, p, p);
        patchEmbedProjBias = ckpt.floats(VIT + "patch_embed.proj.bias", w);
        clsToken = ckpt.floats(VIT + "cls_token", 1, 1, w);
        vitPosEmbed = ckpt.tensor(VIT + "pos_embed", 1, g * g + 1, w);
        if (c.layers() < 2) {
            throw new dev.cogvlm4j.io.ModelFormatException("config.json: the cross tower needs at least 2 blocks");
        }
        ckpt.entry(VIT + "blocks." + (c.layers() - 1) + ".norm1.weight");
        blocks = new Block[c.layers() - 1];
        for (int i = 0; i < blocks.length; i++) {
            String b = VIT + "blocks." + i + ".";
            blocks[i] = new Block(
                    ckpt.floats(b + "norm1.weight", w), ckpt.floats(b + "norm1.bias", w),
                    ckpt.tensor(b + "attn.q_proj.weight", w, w), ckpt.floats(b + "attn.q_bias", w),
                    ckpt.tensor(b + "attn.k_proj.weight", w, w),
                    ckpt.tensor(b + "attn.v_proj.weight", w, w), ckpt.floats(b + "attn.v_bias", w),
                    ckpt.floats(b + "attn.inner_attn_ln.weight", w), ckpt.floats(b + "attn.inner_attn_ln.bias", w),
                    ckpt.tensor(b + "attn.proj.weight", w, w), ckpt.floats(b + "attn.proj.bias", w),
                    ckpt.floats(b + "norm2.weight", w), ckpt.floats(b + "norm2.bias", w),
                    ckpt.tensor(b + "mlp.w1.weight", hid, w), ckpt.floats(b + "mlp.w1.bias", hid),
                    ckpt.tensor(b + "mlp.w2.weight", hid, w), ckpt.floats(b + "mlp.w2.bias", hid),
                    ckpt.floats(b + "mlp.ffn_ln.weight", hid), ckpt.floats(b + "mlp.ffn_ln.bias", hid),
                    ckpt.tensor(b + "mlp.w3.weight", w, hid), ckpt.floats(b + "mlp.w3.bias", w));
        }
        posEmbed = ckpt.tensor(P + "pos_embed", g * g, c.hiddenSize());
        if (c.hiddenSize() != w) {
            throw new dev.cogvlm4j.io.ModelFormatException("config.json: cross_hidden_size " + c.hiddenSize()
                    + " must equal the cross tower width " + w);
        }
        int hw = c.headWidth();
        ropeCos = new float[g * g * hw];
        ropeSin = new float[g * g * hw];
        buildRope(g, hw, ropeCos, ropeSin);
    }

    /**
     * The 2-D table of {@code VisionRotaryEmbeddingFast}: for patch (r, c) the first half of the head holds
     * row frequencies, the second half column frequencies, each frequency repeated for an adjacent pair.
     */
    static void buildRope(int g, int headWidth, float[] cos, float[] sin) {
        int dim = headWidth / 2;
        int nf = dim / 2;
        float[] freqs = new float[nf];
        for (int i = 0; i < nf; i++) {
            freqs[i] = (float) Math.pow(10000.0, -((float) (2 * i) / dim));
        }
        float[][] axis = new float[g][dim];
        for (int t = 0; t < g; t++) {
            float pos = (float) t / g * PT_HW_SEQ_LEN;
            for (int i = 0; i < nf; i++) {
                float f = pos * freqs[i];
                axis[t][2 * i] = f;
                axis[t][2 * i + 1] = f;
            }
        }
        for (int r = 0; r < g; r++) {
            for (int col = 0; col < g; col++) {
                int o = (r * g + col) * headWidth;
                for (int i = 0; i < dim; i++) {
                    cos[o + i] = (float) Math.cos(axis[r][i]);
                    sin[o + i] = (float) Math.sin(axis[r][i]);
                    cos[o + dim + i] = (float) Math.cos(axis[col][i]);
                    sin[o + dim + i] = (float) Math.sin(axis[col][i]);
                }
            }
        }
    }

    /** Drops the tower's mapped weights from resident memory. */
    public void releaseWeights() {
        patchEmbedProj.unload();
        vitPosEmbed.unload();
        posEmbed.unload();
        for (Block b : blocks) {
            for (Tensor t : new Tensor[]{b.qProj(), b.kProj(), b.vProj(), b.proj(), b.w1(), b.w2(), b.w3()}) {
                t.unload();
            }
        }
    }

    /** Encodes the cross image {@code [3, Sx, Sx]} into {@code [Gx², Cx]} features. */
    public float[] forward(float[] pixelValues) {
        int w = c.width();
        int g = c.grid();
        int patches = g * g;
        int len = patches + 1;
        float[] unfolded = Patches.unfoldImage(pixelValues, 3, c.imageSize(), CogVlmConfig.Cross.PATCH);
        float[] patchOut = new float[patches * w];
        k.matmul(unfolded, patches, patchEmbedProj, patchEmbedProjBias, patchOut);
        float[] x = new float[len * w];
        System.arraycopy(clsToken, 0, x, 0, w);
        System.arraycopy(patchOut, 0, x, w, patches * w);
        k.add(x, vitPosEmbed.toFloatArray(), len * w);
        long t0 = System.nanoTime();
        for (Block b : blocks) {
            block(b, x, len);
        }
        dev.cogvlm4j.model.Timings.CROSS_BLOCKS.addAndGet(System.nanoTime() - t0);
        float[] out = new float[patches * w];
        System.arraycopy(x, w, out, 0, patches * w);
        k.add(out, posEmbed.toFloatArray(), patches * w);
        return out;
    }

    private void block(Block b, float[] x, int len) {
        int w = c.width();
        int hw = c.headWidth();
        int heads = w / hw;
        float[] h = new float[len * w];
        k.layerNorm(x, len, w, b.norm1Weight(), b.norm1Bias(), LN_EPS, h);
        float[] q = new float[len * w];
        float[] kk = new float[len * w];
        float[] vv = new float[len * w];
        k.matmul(h, len, b.qProj(), b.qBias(), q);
        k.matmul(h, len, b.kProj(), null, kk);
        k.matmul(h, len, b.vProj(), b.vBias(), vv);
        // Rotate every patch token; cls (row 0) keeps its raw query and key.
        for (int i = 1; i < len; i++) {
            k.rotary(q, i * w, heads, hw, ropeCos, ropeSin, (i - 1) * hw, true);
            k.rotary(kk, i * w, heads, hw, ropeCos, ropeSin, (i - 1) * hw, true);
        }
        float[] ctx = new float[len * w];
        k.attention(q, 0, w, kk, 0, vv, 0, w, ctx, len, len, heads, heads, hw, (float) (1.0 / Math.sqrt(hw)), false, 0);
        k.layerNorm(ctx, len, w, b.innerAttnLnWeight(), b.innerAttnLnBias(), LN_EPS, ctx);
        float[] o = new float[len * w];
        k.matmul(ctx, len, b.proj(), b.projBias(), o);
        k.add(x, o, len * w);

        int hid = c.mlpHidden();
        k.layerNorm(x, len, w, b.norm2Weight(), b.norm2Bias(), LN_EPS, h);
        float[] gate = new float[len * hid];
        float[] up = new float[len * hid];
        k.matmul(h, len, b.w1(), b.w1Bias(), gate);
        k.matmul(h, len, b.w2(), b.w2Bias(), up);
        k.siluGate(gate, up, len * hid);
        k.layerNorm(gate, len, hid, b.ffnLnWeight(), b.ffnLnBias(), LN_EPS, gate);
        k.matmul(gate, len, b.w3(), b.w3Bias(), o);
        k.add(x, o, len * w);
    }
}
