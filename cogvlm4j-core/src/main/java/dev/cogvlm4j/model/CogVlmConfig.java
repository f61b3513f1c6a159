package dev.cogvlm4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.io.ModelFormatException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A model's {@code config.json}, read for any of the three families. The family is detected from the file and the
 * checkpoint's tensor names together, because CogVLM and CogVLM2 share the architecture name.
 *
 * @param family         detected family
 * @param vocabSize      language vocabulary size
 * @param hiddenSize     H, the decoder width
 * @param intermediateSize SwiGLU width of the decoder MLPs and of the vision adapter's GLU
 * @param numLayers      decoder layers
 * @param numHeads       query heads
 * @param numKvHeads     key/value heads (equal to numHeads except CogVLM2's GQA)
 * @param rmsNormEps     RMSNorm epsilon
 * @param ropeTheta      rotary base: 10 000, or 500 000 for CogVLM2 (the reference hard-codes it)
 * @param maxPositions   context length
 * @param bosId          beginning-of-sequence id
 * @param eosIds         ids that end generation
 * @param padId          pad id from the config
 * @param imagePadId     id placed in image slots of input_ids (never embedded)
 * @param templateVersion default prompt template
 * @param vision         EVA2-CLIP-E tower geometry
 * @param cross          CogAgent's high-resolution tower, or null
 */
public record CogVlmConfig(
        Family family, int vocabSize, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
        int numKvHeads, float rmsNormEps, double ropeTheta, int maxPositions, int bosId, int[] eosIds, int padId,
        int imagePadId, String templateVersion, Vision vision, Cross cross) {

    /**
     * EVA2-CLIP-E geometry ({@code vision_config}).
     *
     * @param hiddenSize       Vh
     * @param intermediateSize Vi
     * @param numHeads         Vn
     * @param numLayers        VL
     * @param imageSize        S
     * @param patchSize        p (14)
     * @param numPositions     G²+1
     * @param layerNormEps     LayerNorm epsilon
     */
    public record Vision(int hiddenSize, int intermediateSize, int numHeads, int numLayers, int imageSize,
                         int patchSize, int numPositions, float layerNormEps) {
        /** Patches per side, G = S / p. */
        public int grid() {
            return imageSize / patchSize;
        }
    }

    /**
     * CogAgent's EVA2-CLIP-L cross tower and the decoder's cross-attention sizes.
     *
     * @param imageSize          cross image side (1120)
     * @param hiddenSize         Cx, the tower output width the decoder reads
     * @param computeHiddenSize  Cc, the cross-attention width
     * @param layers             tower blocks in the checkpoint (the last is skipped by the reference)
     * @param width              tower width
     * @param headWidth          tower head width
     */
    public record Cross(int imageSize, int hiddenSize, int computeHiddenSize, int layers, int width, int headWidth) {
        /** Patch size of the cross tower (fixed at 14). */
        public static final int PATCH = 14;

        /** Patches per side. */
        public int grid() {
            return imageSize / PATCH;
        }

        /** MLP hidden width, {@code int(width · 2.6667)} as EVA computes it. */
        public int mlpHidden() {
            return (int) (width * 2.6667);
        }
    }

    /** Decoder head dimension. */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    /** Image tokens placed in the sequence, boi and eoi included. */
    public int imageTokens() {
        int g = vision.grid();
        int n = family == Family.COGVLM2 ? (g / 2) * (g / 2) : g * g;
        return n + 2;
    }

    /** Width of the fused QKV projection: 3H, or H + 2·d·kv with GQA. */
    public int qkvSize() {
        return hiddenSize + 2 * headDim() * numKvHeads;
    }

    /** Reads the configuration of a checkpoint (its config.json, or the copy inside a GGUF file). */
    public static CogVlmConfig load(dev.cogvlm4j.io.Checkpoint ckpt) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(ckpt.configJson());
        } catch (IOException e) {
            throw new ModelFormatException("config.json: not valid JSON: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException("config.json: not a JSON object");
        }
        return parse(root, ckpt.names());
    }

    /** Builds the configuration from parsed JSON. */
    public static CogVlmConfig parse(JsonNode root, Set<String> tensorNames) {
        Family family = detect(root, tensorNames);
        int hidden = positive(root, "hidden_size");
        int heads = positive(root, "num_attention_heads");
        if (hidden % heads != 0) {
            throw new ModelFormatException("config.json: hidden_size " + hidden + " is not divisible by num_attention_heads " + heads);
        }
        int kv = family == Family.COGVLM2 ? intOr(root, "num_multi_query_heads", 8) : heads;
        if (kv <= 0 || heads % kv != 0) {
            throw new ModelFormatException("config.json: num_attention_heads " + heads + " is not a multiple of num_multi_query_heads " + kv);
        }
        int pad = intOr(root, "pad_token_id", family == Family.COGVLM2 ? 128002 : 0);
        int imagePad = root.has("image_pad_token_id_override") ? root.get("image_pad_token_id_override").asInt()
                : family == Family.COGVLM2 ? 128002 : pad;
        String template = root.has("template_version") ? root.get("template_version").asText()
                : family == Family.COGAGENT ? "chat_old" : "chat";
        JsonNode v = root.get("vision_config");
        if (v == null || !v.isObject()) {
            throw new ModelFormatException("config.json: no vision_config object");
        }
        Vision vision = new Vision(positive(v, "hidden_size"), positive(v, "intermediate_size"),
                positive(v, "num_heads"), positive(v, "num_hidden_layers"), positive(v, "image_size"),
                positive(v, "patch_size"), positive(v, "num_positions"),
                (float) doubleOr(v, "layer_norm_eps", 1e-6));
        if (vision.imageSize() % vision.patchSize() != 0) {
            throw new ModelFormatException("config.json: vision image_size " + vision.imageSize() + " is not a multiple of patch_size " + vision.patchSize());
        }
        if (vision.hiddenSize() % vision.numHeads() != 0) {
            throw new ModelFormatException("config.json: vision hidden_size is not divisible by num_heads");
        }
        int g = vision.grid();
        if (vision.numPositions() != g * g + 1) {
            throw new ModelFormatException("config.json: vision num_positions " + vision.numPositions() + " should be "
                    + (g * g + 1) + " for image_size " + vision.imageSize());
        }
        if (family == Family.COGVLM2 && g % 2 != 0) {
            throw new ModelFormatException("config.json: CogVLM2 needs an even patch grid, got " + g);
        }
        Cross cross = null;
        if (family == Family.COGAGENT) {
            JsonNode o = root.get("cross_vision_override");
            int layers = o != null && o.has("layers") ? o.get("layers").asInt() : 24;
            int width = o != null && o.has("width") ? o.get("width").asInt() : 1024;
            int headWidth = o != null && o.has("head_width") ? o.get("head_width").asInt() : 64;
            cross = new Cross(intOr(root, "cross_image_size", 1120), intOr(root, "cross_hidden_size", 1024),
                    intOr(root, "cross_compute_hidden_size", 1024), layers, width, headWidth);
            if (cross.imageSize() % Cross.PATCH != 0 || width % headWidth != 0 || headWidth % 4 != 0) {
                throw new ModelFormatException("config.json: inconsistent cross tower geometry " + cross);
            }
            if (cross.computeHiddenSize() != cross.hiddenSize() || cross.computeHiddenSize() % heads != 0) {
                throw new ModelFormatException("config.json: cross_compute_hidden_size must equal cross_hidden_size and divide by the heads, as the reference requires");
            }
        }
        return new CogVlmConfig(family, positive(root, "vocab_size"), hidden, positive(root, "intermediate_size"),
                positive(root, "num_hidden_layers"), heads, kv, (float) doubleOr(root, "rms_norm_eps", 1e-5),
                family == Family.COGVLM2 ? 500_000.0 : 10_000.0,
                intOr(root, "max_position_embeddings", family == Family.COGVLM2 ? 8192 : 2048),
                intOr(root, "bos_token_id", family == Family.COGVLM2 ? 128000 : 1), eosIds(root, family), pad,
                imagePad, template, vision, cross);
    }

    /** CogAgent by architecture or cross-tower weights; CogVLM2 by its downsampling convolution. */
    static Family detect(JsonNode root, Set<String> names) {
        JsonNode arch = root.get("architectures");
        boolean agent = arch != null && arch.toString().contains("CogAgentForCausalLM");
        if (agent || names.stream().anyMatch(n -> n.startsWith("model.cross_vision."))) {
            return Family.COGAGENT;
        }
        if (names.contains("model.vision.conv.weight")) {
            return Family.COGVLM2;
        }
        if (names.isEmpty() && root.has("num_multi_query_heads")) {
            return Family.COGVLM2;
        }
        return Family.COGVLM;
    }

    private static int[] eosIds(JsonNode root, Family family) {
        JsonNode e = root.get("eos_token_id");
        List<Integer> ids = new ArrayList<>();
        if (e != null && e.isArray()) {
            e.forEach(x -> ids.add(x.asInt()));
        } else if (e != null && e.isNumber()) {
            ids.add(e.asInt());
        } else {
            ids.add(family == Family.COGVLM2 ? 128001 : 2);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private static int positive(JsonNode n, String key) {
        JsonNode v = n.get(key);
        if (v == null || !v.canConvertToInt() || v.asInt() <= 0) {
            throw new ModelFormatException("config.json: '" + key + "' must be a positive integer, got " + v);
        }
        return v.asInt();
    }

    private static int intOr(JsonNode n, String key, int def) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? def : v.asInt();
    }

    private static double doubleOr(JsonNode n, String key, double def) {
        JsonNode v = n.get(key);
        return v == null || v.isNull() ? def : v.asDouble();
    }
}
