package dev.cogvlm4j.bench;

import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.Family;
import java.util.ArrayList;
import java.util.List;

/** Every parameter a configuration implies, by checkpoint name and PyTorch shape, and the real models' configs. */
public final class ModelShapes {
    /** One parameter. */
    public record Param(String name, long[] shape) {
    }

    private ModelShapes() {
    }

    /** config.json of a real model with its stacks cut to {@code layers} layers each (cross tower: layers + 1). */
    public static String realConfig(String shape, int layers) {
        String lm = "\"hidden_size\": 4096, \"num_attention_heads\": 32, \"rms_norm_eps\": 1e-05, \"num_hidden_layers\": " + layers;
        return switch (shape) {
            case "cogvlm-17b" -> "{\"architectures\": [\"CogVLMForCausalLM\"], " + lm + ", \"intermediate_size\": 11008,"
                    + " \"vocab_size\": 32000, \"template_version\": \"chat\", \"vision_config\": " + vision(490, 1226, layers) + "}";
            case "cogagent-18b" -> "{\"architectures\": [\"CogAgentForCausalLM\"], " + lm + ", \"intermediate_size\": 11008,"
                    + " \"vocab_size\": 32000, \"template_version\": \"chat_old\", \"cross_image_size\": 1120,"
                    + " \"cross_hidden_size\": 1024, \"cross_compute_hidden_size\": 1024,"
                    + " \"cross_vision_override\": {\"layers\": " + (layers + 1) + ", \"width\": 1024, \"head_width\": 64},"
                    + " \"vision_config\": " + vision(224, 257, layers) + "}";
            case "cogvlm2-19b" -> "{\"architectures\": [\"CogVLMForCausalLM\"], " + lm + ", \"intermediate_size\": 14336,"
                    + " \"vocab_size\": 128256, \"num_multi_query_heads\": 8, \"bos_token_id\": 128000, \"eos_token_id\": 128001,"
                    + " \"pad_token_id\": 128002, \"max_position_embeddings\": 8192, \"template_version\": \"chat\","
                    + " \"vision_config\": " + vision(1344, 9217, layers) + "}";
            default -> throw new IllegalArgumentException("unknown shape '" + shape + "'; use cogvlm-17b, cogagent-18b, cogvlm2-19b or a config.json path");
        };
    }

    /** Real depths of the stacks: decoder layers, vision layers, cross blocks. */
    public static int[] realDepths(String shape) {
        return switch (shape) {
            case "cogagent-18b" -> new int[]{32, 63, 24};
            default -> new int[]{32, 63, 0};
        };
    }

    private static String vision(int size, int positions, int layers) {
        return "{\"hidden_size\": 1792, \"intermediate_size\": 15360, \"num_heads\": 16, \"num_hidden_layers\": " + layers
                + ", \"image_size\": " + size + ", \"patch_size\": 14, \"num_positions\": " + positions
                + ", \"layer_norm_eps\": 1e-06, \"in_channels\": 3, \"hidden_act\": \"gelu\", \"dropout_prob\": 0.0}";
    }

    /** The parameters of a model with this configuration, as the engine binds them. */
    public static List<Param> of(CogVlmConfig c) {
        List<Param> p = new ArrayList<>();
        int h = c.hiddenSize();
        int inter = c.intermediateSize();
        int q = c.qkvSize();
        p.add(new Param("model.embed_tokens.weight", new long[]{c.vocabSize(), h}));
        for (int i = 0; i < c.numLayers(); i++) {
            String l = "model.layers." + i + ".";
            p.add(new Param(l + "input_layernorm.weight", new long[]{h}));
            p.add(new Param(l + "post_attention_layernorm.weight", new long[]{h}));
            for (String e : List.of("vision", "language")) {
                p.add(new Param(l + "self_attn." + e + "_expert_query_key_value.weight", new long[]{q, h}));
                p.add(new Param(l + "self_attn." + e + "_expert_dense.weight", new long[]{h, h}));
                p.add(new Param(l + "mlp." + e + "_mlp.gate_proj.weight", new long[]{inter, h}));
                p.add(new Param(l + "mlp." + e + "_mlp.up_proj.weight", new long[]{inter, h}));
                p.add(new Param(l + "mlp." + e + "_mlp.down_proj.weight", new long[]{h, inter}));
            }
            if (c.family() == Family.COGVLM2) {
                p.add(new Param(l + "self_attn.vision_expert_query_key_value.bias", new long[]{q}));
            }
            if (c.cross() != null) {
                int cc = c.cross().computeHiddenSize();
                p.add(new Param(l + "post_cross_attention_layernorm.weight", new long[]{h}));
                p.add(new Param(l + "cross_attn.query.weight", new long[]{cc, h}));
                p.add(new Param(l + "cross_attn.key_value.weight", new long[]{2L * cc, c.cross().hiddenSize()}));
                p.add(new Param(l + "cross_attn.dense.weight", new long[]{h, cc}));
            }
        }
        p.add(new Param("model.norm.weight", new long[]{h}));
        p.add(new Param("lm_head.weight", new long[]{c.vocabSize(), h}));
        CogVlmConfig.Vision v = c.vision();
        int w = v.hiddenSize();
        int g = v.grid();
        String vp = "model.vision.";
        p.add(new Param(vp + "patch_embedding.proj.weight", new long[]{w, 3, v.patchSize(), v.patchSize()}));
        p.add(new Param(vp + "patch_embedding.proj.bias", new long[]{w}));
        p.add(new Param(vp + "patch_embedding.cls_embedding", new long[]{1, w}));
        p.add(new Param(vp + "patch_embedding.position_embedding.weight", new long[]{(long) g * g + 1, w}));
        for (int i = 0; i < v.numLayers(); i++) {
            String l = vp + "transformer.layers." + i + ".";
            p.add(new Param(l + "attention.query_key_value.weight", new long[]{3L * w, w}));
            p.add(new Param(l + "attention.query_key_value.bias", new long[]{3L * w}));
            p.add(new Param(l + "attention.dense.weight", new long[]{w, w}));
            p.add(new Param(l + "attention.dense.bias", new long[]{w}));
            p.add(new Param(l + "input_layernorm.weight", new long[]{w}));
            p.add(new Param(l + "input_layernorm.bias", new long[]{w}));
            p.add(new Param(l + "mlp.fc1.weight", new long[]{v.intermediateSize(), w}));
            p.add(new Param(l + "mlp.fc1.bias", new long[]{v.intermediateSize()}));
            p.add(new Param(l + "mlp.fc2.weight", new long[]{w, v.intermediateSize()}));
            p.add(new Param(l + "mlp.fc2.bias", new long[]{w}));
            p.add(new Param(l + "post_attention_layernorm.weight", new long[]{w}));
            p.add(new Param(l + "post_attention_layernorm.bias", new long[]{w}));
        }
        if (c.family() == Family.COGAGENT) {
            p.add(new Param(vp + "pos_embed", new long[]{(long) g * g, w}));
        }
        if (c.family() == Family.COGVLM2) {
            p.add(new Param(vp + "conv.weight", new long[]{w, w, 2, 2}));
            p.add(new Param(vp + "conv.bias", new long[]{w}));
        }
        p.add(new Param(vp + "linear_proj.linear_proj.weight", new long[]{h, w}));
        p.add(new Param(vp + "linear_proj.norm1.weight", new long[]{h}));
        p.add(new Param(vp + "linear_proj.norm1.bias", new long[]{h}));
        p.add(new Param(vp + "linear_proj.gate_proj.weight", new long[]{inter, h}));
        p.add(new Param(vp + "linear_proj.dense_h_to_4h.weight", new long[]{inter, h}));
        p.add(new Param(vp + "linear_proj.dense_4h_to_h.weight", new long[]{h, inter}));
        p.add(new Param(vp + "boi", new long[]{1, 1, h}));
        p.add(new Param(vp + "eoi", new long[]{1, 1, h}));
        if (c.cross() != null) {
            CogVlmConfig.Cross x = c.cross();
            int cw = x.width();
            int cg = x.grid();
            int hid = x.mlpHidden();
            String cp = "model.cross_vision.vit.model.";
            p.add(new Param(cp + "patch_embed.proj.weight", new long[]{cw, 3, 14, 14}));
            p.add(new Param(cp + "patch_embed.proj.bias", new long[]{cw}));
            p.add(new Param(cp + "cls_token", new long[]{1, 1, cw}));
            p.add(new Param(cp + "pos_embed", new long[]{1, (long) cg * cg + 1, cw}));
            for (int i = 0; i < x.layers(); i++) {
                String b = cp + "blocks." + i + ".";
                for (String n : List.of("norm1", "norm2")) {
                    p.add(new Param(b + n + ".weight", new long[]{cw}));
                    p.add(new Param(b + n + ".bias", new long[]{cw}));
                }
                for (String n : List.of("q_proj", "k_proj", "v_proj", "proj")) {
                    p.add(new Param(b + "attn." + n + ".weight", new long[]{cw, cw}));
                }
                p.add(new Param(b + "attn.q_bias", new long[]{cw}));
                p.add(new Param(b + "attn.v_bias", new long[]{cw}));
                p.add(new Param(b + "attn.proj.bias", new long[]{cw}));
                p.add(new Param(b + "attn.inner_attn_ln.weight", new long[]{cw}));
                p.add(new Param(b + "attn.inner_attn_ln.bias", new long[]{cw}));
                p.add(new Param(b + "mlp.w1.weight", new long[]{hid, cw}));
                p.add(new Param(b + "mlp.w1.bias", new long[]{hid}));
                p.add(new Param(b + "mlp.w2.weight", new long[]{hid, cw}));
                p.add(new Param(b + "mlp.w2.bias", new long[]{hid}));
                p.add(new Param(b + "mlp.ffn_ln.weight", new long[]{hid}));
                p.add(new Param(b + "mlp.ffn_ln.bias", new long[]{hid}));
                p.add(new Param(b + "mlp.w3.weight", new long[]{cw, hid}));
                p.add(new Param(b + "mlp.w3.bias", new long[]{cw}));
            }
            p.add(new Param("model.cross_vision.pos_embed", new long[]{(long) cg * cg, x.hiddenSize()}));
        }
        return p;
    }
}
