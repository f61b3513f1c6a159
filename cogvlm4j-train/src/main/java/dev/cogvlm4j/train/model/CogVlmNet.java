package dev.cogvlm4j.train.model;

import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.Family;
import dev.cogvlm4j.model.PositionIds;
import dev.cogvlm4j.train.nn.Ops;
import dev.cogvlm4j.train.nn.Param;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A CogVLM (v1 layout) that can learn: the EVA2-CLIP tower, the GLU adapter between boi and eoi, and the Llama
 * decoder whose every layer holds a language expert and a visual expert. Parameters carry the checkpoint's tensor
 * names, so a trained net is written as an ordinary checkpoint that the inference engine loads.
 *
 * <p>The forward pass computes exactly what the engine computes (same layout, routing, positions, norms); the
 * backward pass follows it operator by operator with the passes in {@link Ops}. With {@code visualExperts} off, image
 * rows go through the language weights: the shallow-alignment baseline the paper compares against.
 */
public final class CogVlmNet {
    private static final String V = "model.vision.";
    private static final float ADAPTER_LN_EPS = 1e-5f;

    private final CogVlmConfig config;
    private final Map<String, Param> params = new LinkedHashMap<>();
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private boolean visualExperts = true;

    private CogVlmNet(CogVlmConfig config) {
        if (config.family() != Family.COGVLM) {
            throw new IllegalArgumentException("the trainer builds CogVLM (v1) layouts, not " + config.family());
        }
        this.config = config;
    }

    // ---------------------------------------------------------------- parameters

    /** A net with freshly initialised weights (normal 0.02, norms at one, biases at zero). */
    public static CogVlmNet initialize(CogVlmConfig c, long seed) {
        CogVlmNet net = new CogVlmNet(c);
        SplittableRandom r = new SplittableRandom(seed);
        var v = c.vision();
        int vh = v.hiddenSize();
        int p = v.patchSize();
        int h = c.hiddenSize();
        int inter = c.intermediateSize();
        net.normal(V + "patch_embedding.proj.weight", r, 0.02, vh, 3, p, p);
        net.zeros(V + "patch_embedding.proj.bias", vh);
        net.normal(V + "patch_embedding.cls_embedding", r, 0.02, 1, vh);
        net.add(V + "patch_embedding.position_embedding.weight", sinCos2d(v.grid(), vh), new long[]{v.numPositions(), vh});
        for (int l = 0; l < v.numLayers(); l++) {
            String s = V + "transformer.layers." + l + ".";
            net.normal(s + "attention.query_key_value.weight", r, 0.02, 3L * vh, vh);
            net.zeros(s + "attention.query_key_value.bias", 3L * vh);
            net.normal(s + "attention.dense.weight", r, 0.02, vh, vh);
            net.zeros(s + "attention.dense.bias", vh);
            net.normal(s + "mlp.fc1.weight", r, 0.02, v.intermediateSize(), vh);
            net.zeros(s + "mlp.fc1.bias", v.intermediateSize());
            net.normal(s + "mlp.fc2.weight", r, 0.02, vh, v.intermediateSize());
            net.zeros(s + "mlp.fc2.bias", vh);
            net.ones(s + "input_layernorm.weight", vh);
            net.zeros(s + "input_layernorm.bias", vh);
            net.ones(s + "post_attention_layernorm.weight", vh);
            net.zeros(s + "post_attention_layernorm.bias", vh);
        }
        // The adapter starts variance-preserving (std 1/√fan-in), so image rows enter the decoder at a scale that
        // holds its own against the attention mixtures added to them; at 0.02 they would be drowned in layer 0.
        net.normal(V + "linear_proj.linear_proj.weight", r, 1 / Math.sqrt(vh), h, vh);
        net.ones(V + "linear_proj.norm1.weight", h);
        net.zeros(V + "linear_proj.norm1.bias", h);
        net.normal(V + "linear_proj.gate_proj.weight", r, 1 / Math.sqrt(h), inter, h);
        net.normal(V + "linear_proj.dense_h_to_4h.weight", r, 1 / Math.sqrt(h), inter, h);
        net.normal(V + "linear_proj.dense_4h_to_h.weight", r, 1 / Math.sqrt(inter), h, inter);
        net.normal(V + "boi", r, 0.02, 1, 1, h);
        net.normal(V + "eoi", r, 0.02, 1, 1, h);
        net.normal("model.embed_tokens.weight", r, 0.02, c.vocabSize(), h);
        double out = 0.02 / Math.sqrt(2.0 * c.numLayers());
        for (int l = 0; l < c.numLayers(); l++) {
            String s = "model.layers." + l + ".";
            net.ones(s + "input_layernorm.weight", h);
            net.ones(s + "post_attention_layernorm.weight", h);
            for (String e : new String[]{"language", "vision"}) {
                net.normal(s + "self_attn." + e + "_expert_query_key_value.weight", r, 0.02, 3L * h, h);
                net.normal(s + "self_attn." + e + "_expert_dense.weight", r, out, h, h);
                net.normal(s + "mlp." + e + "_mlp.gate_proj.weight", r, 0.02, inter, h);
                net.normal(s + "mlp." + e + "_mlp.up_proj.weight", r, 0.02, inter, h);
                net.normal(s + "mlp." + e + "_mlp.down_proj.weight", r, out, h, inter);
            }
        }
        net.ones("model.norm.weight", h);
        net.normal("lm_head.weight", r, 0.02, c.vocabSize(), h);
        for (int i = 0; i < PATCH_HEADS.length; i++) {
            net.normal(PATCH_HEAD + PATCH_HEADS[i] + ".weight", r, 0.02, PATCH_WIDTHS[i], vh);
            net.zeros(PATCH_HEAD + PATCH_HEADS[i] + ".bias", PATCH_WIDTHS[i]);
        }
        return net;
    }

    /** Tensors that exist only for training (the tower's pretraining head); never exported. */
    public static final String TRAINING_ONLY = "train.";
    private static final String PATCH_HEAD = TRAINING_ONLY + "patch_head.";
    /**
     * The patch head's linear maps: kind logits, colour logits, box, and each box coordinate's place logits (used
     * when the targets ask for places); and their output widths.
     */
    private static final String[] PATCH_HEADS = {"kind", "colour", "box", "place"};
    private static final int[] PATCH_WIDTHS = {Episode.PatchTargets.KINDS, Episode.PatchTargets.COLOURS, 4,
            4 * Episode.PatchTargets.PLACES};
    /** Weight of the box's squared error against the two cross-entropies. */
    private static final float BOX_WEIGHT = 10f;
    /**
     * Spread, in places, of a coordinate's place target: a Gaussian over the neighbouring places, so that a place
     * off by one costs less than one off by ten (the classes are ordered) and the tower learns a smooth code.
     */
    private static final double PLACE_SIGMA = 1.0;
    /** Weight of the adapter's squared error against the scene's slot rows, per value (when the targets carry them). */
    private static final float SLOT_WEIGHT = 1f;

    /**
     * A net over the given weights (each must have its shape's element count). Training-only tensors may be absent,
     * as they are from an exported checkpoint; they keep their initialisation.
     */
    public static CogVlmNet of(CogVlmConfig c, Map<String, float[]> weights) {
        CogVlmNet net = initialize(c, 0);
        for (Map.Entry<String, Param> e : net.params.entrySet()) {
            float[] w = weights.get(e.getKey());
            if (w == null && e.getKey().startsWith(TRAINING_ONLY)) {
                continue;
            }
            if (w == null) {
                throw new IllegalArgumentException("missing tensor " + e.getKey());
            }
            if (w.length != e.getValue().value().length) {
                throw new IllegalArgumentException(e.getKey() + ": " + w.length + " values, expected "
                        + e.getValue().value().length);
            }
            System.arraycopy(w, 0, e.getValue().value(), 0, w.length);
        }
        return net;
    }

    /**
     * The 2-D sine-cosine table (MAE's) as the position embeddings' starting point: row and column each get half
     * the width, cls gets zeros. A table of small random numbers would leave the tower blind to where a patch is
     * until it had learned positions from scratch; boxes and left-to-right order need them from the first step.
     */
    static float[] sinCos2d(int grid, int width) {
        float[] t = new float[(grid * grid + 1) * width];
        int quarter = width / 4;
        for (int gy = 0; gy < grid; gy++) {
            for (int gx = 0; gx < grid; gx++) {
                int o = (1 + gy * grid + gx) * width;
                for (int i = 0; i < quarter; i++) {
                    double f = 1 / Math.pow(100, (double) i / quarter);
                    t[o + i] = (float) Math.sin(gy * f);
                    t[o + quarter + i] = (float) Math.cos(gy * f);
                    t[o + 2 * quarter + i] = (float) Math.sin(gx * f);
                    t[o + 3 * quarter + i] = (float) Math.cos(gx * f);
                }
            }
        }
        return t;
    }

    private void normal(String name, SplittableRandom r, double std, long... shape) {
        float[] w = new float[count(shape)];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (Ops.gaussian(r) * std);
        }
        add(name, w, shape);
    }

    private void zeros(String name, long... shape) {
        add(name, new float[count(shape)], shape);
    }

    private void ones(String name, long... shape) {
        float[] w = new float[count(shape)];
        Arrays.fill(w, 1f);
        add(name, w, shape);
    }

    private void add(String name, float[] w, long[] shape) {
        // Weight decay applies to the projection matrices only, not to norms, biases, embeddings and tokens.
        boolean matrix = name.endsWith(".weight") && shape.length >= 2 && !name.contains("embed")
                && !name.contains("position_embedding");
        Param p = Param.of(name, w);
        params.put(name, matrix ? p : p.withoutDecay());
        shapes.put(name, shape);
    }

    private static int count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return Math.toIntExact(n);
    }

    /** The architecture. */
    public CogVlmConfig config() {
        return config;
    }

    /** Parameters in checkpoint order. */
    public List<Param> params() {
        return List.copyOf(params.values());
    }

    Map<String, Param> paramMap() {
        return params;
    }

    /** The shape of a tensor. */
    public long[] shape(String name) {
        return shapes.get(name).clone();
    }

    /** One parameter by checkpoint name. */
    public Param param(String name) {
        Param p = params.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no parameter " + name);
        }
        return p;
    }

    /** Replaces a parameter's training flags (freezing, learning-rate multiplier); the values are shared. */
    public void configure(String name, boolean frozen, float lrMultiplier) {
        Param p = param(name);
        params.put(name, new Param(name, p.value(), p.grad(), frozen, lrMultiplier, p.decay()));
    }

    /** Whether image rows use the visual expert (deep fusion) or the language weights (shallow alignment). */
    public boolean visualExperts() {
        return visualExperts;
    }

    /** Sets the routing of image rows. */
    public void setVisualExperts(boolean on) {
        this.visualExperts = on;
    }

    /**
     * Draws the vision side (tower, adapter, boi, eoi) afresh from {@code seed}: the language stage never trains
     * it, so the first vision stage starts it from its initialisation whatever the language stage's seed was.
     */
    public void reinitializeVision(long seed) {
        CogVlmNet fresh = initialize(config, seed);
        for (Map.Entry<String, Param> e : params.entrySet()) {
            if (e.getKey().startsWith(V)) {
                float[] src = fresh.params.get(e.getKey()).value();
                System.arraycopy(src, 0, e.getValue().value(), 0, src.length);
            }
        }
        // The image starts blank: the adapter's last projection, boi and eoi at zero, so the image rows are the
        // zero rows the language model was pretrained with (Episode.blank) and the frozen model's predictions are
        // untouched at the first step. Random image rows would only hurt them, and the quickest cure for that is to
        // stop attending to the image, which closes the path before it carries anything; from a blank start every
        // update has to make the image useful (the zero-initialised branch of ControlNet and LLaMA-Adapter).
        Arrays.fill(params.get(V + "linear_proj.dense_4h_to_h.weight").value(), 0f);
        Arrays.fill(params.get(V + "boi").value(), 0f);
        Arrays.fill(params.get(V + "eoi").value(), 0f);
    }

    /** Copies every language-expert weight onto its visual expert, the paper's initialisation of the experts. */
    public void initVisualExpertsFromLanguage() {
        for (String name : params.keySet()) {
            if (name.contains("language_expert") || name.contains("language_mlp")) {
                String vis = name.replace("language_expert", "vision_expert").replace("language_mlp", "vision_mlp");
                float[] src = params.get(name).value();
                System.arraycopy(src, 0, params.get(vis).value(), 0, src.length);
            }
        }
    }

    /** Whether a tensor belongs to the language model (embeddings, language experts, norms, head). */
    public static boolean isLanguage(String name) {
        return !name.startsWith(V) && !name.startsWith(TRAINING_ONLY) && !isVisualExpert(name);
    }

    /** Whether a tensor is a visual expert's (its attention or MLP weights in a decoder layer). */
    public static boolean isVisualExpert(String name) {
        return name.contains("vision_expert") || name.contains("vision_mlp");
    }

    /** Whether a tensor is the adapter's (the GLU between the tower and the decoder; boi and eoi are not). */
    public static boolean isAdapter(String name) {
        return name.startsWith(V + "linear_proj.");
    }

    /** Whether a tensor belongs to the vision tower proper (not the adapter). */
    public static boolean isTower(String name) {
        return name.startsWith(V + "patch_embedding") || name.startsWith(V + "transformer.");
    }

    private float[] w(String name) {
        return params.get(name).value();
    }

    // ---------------------------------------------------------------- training step

    /**
     * Runs one episode forward and backward, accumulating into {@code grads} the gradient of
     * {@code lossScale × Σ cross-entropy} over its target tokens; returns that (unscaled) sum.
     */
    public double forwardBackward(Episode e, Grads grads, float lossScale) {
        return forwardBackward(e, grads, lossScale, false);
    }

    /**
     * As {@link #forwardBackward(Episode, Grads, float)}; with {@code perAnswer} the loss is instead
     * {@code lossScale × Σ} over the branches of each branch's mean cross-entropy (every answer weighs the same,
     * a one-word colour as much as a sixty-token caption with boxes), and that unscaled sum is returned.
     */
    public double forwardBackward(Episode e, Grads grads, float lossScale, boolean perAnswer) {
        if (e.patches() != null) {
            return patchStep(e, grads, lossScale);
        }
        Pass pass = new Pass(e);
        pass.forward();
        return pass.backward(grads, lossScale, perAnswer);
    }

    /**
     * The tower's pretraining step: the patch features through linear heads, cross-entropy on each patch's kind and
     * colour plus {@link #BOX_WEIGHT} × the squared error of the box on covered patches and, when the targets ask for
     * places, the cross-entropy of each covered patch's four box coordinates against their place targets (spread by
     * {@link #PLACE_SIGMA}), summed over patches; when the targets carry slot rows, also {@link #SLOT_WEIGHT} × the
     * squared error of the adapter's patch rows against them (the adapter learns then too). With {@code grads} null
     * only the loss is computed.
     */
    private double patchStep(Episode e, Grads grads, float lossScale) {
        Episode.PatchTargets t = e.patches();
        int n = t.kind().length;
        int vh = config.vision().hiddenSize();
        Pass.Tower tower = new Pass(e).new Tower(e.pixels());
        float[] feats = tower.forwardFeatures();
        if (feats.length != n * vh) {
            throw new IllegalArgumentException("patch targets for " + n + " patches, the tower has " + feats.length / vh);
        }
        int heads = t.places() ? 4 : 3;
        float[][] out = readHeads(feats, heads);
        float[][] dOut = new float[heads][];
        for (int h = 0; h < heads; h++) {
            dOut[h] = new float[out[h].length];
        }
        boolean[] all = new boolean[n];
        Arrays.fill(all, true);
        // Ops.crossEntropy averages over the patches and gives the gradient of that mean; the step's loss is their sum.
        double loss = n * Ops.crossEntropy(out[0], n, PATCH_WIDTHS[0], t.kind(), all, dOut[0])
                + n * Ops.crossEntropy(out[1], n, PATCH_WIDTHS[1], t.colour(), all, dOut[1]);
        for (int i = 0; i < n; i++) {
            if (t.covered(i)) {
                for (int c = 4 * i; c < 4 * i + 4; c++) {
                    float d = out[2][c] - t.box()[c];
                    loss += BOX_WEIGHT * d * d;
                    dOut[2][c] = 2 * BOX_WEIGHT * d;
                    if (t.places()) {
                        loss += placeCrossEntropy(out[3], dOut[3], c * Episode.PatchTargets.PLACES, t.place(c));
                    }
                }
            }
        }
        float[] dSlots = null;
        int dh = config.hiddenSize();
        if (t.slots() != null) {
            // The adapter writes the scene's slot rows: squared error on the patches' rows (boi and eoi stay as they are).
            if (t.slots().length != (n + 2) * dh) {
                throw new IllegalArgumentException("slot targets: " + t.slots().length + " values, the image slots take "
                        + (n + 2) + " rows of " + dh);
            }
            float[] rows = tower.adapterForward();
            dSlots = new float[rows.length];
            for (int i = dh; i < (n + 1) * dh; i++) {
                float d = rows[i] - t.slots()[i];
                loss += SLOT_WEIGHT * d * d;
                dSlots[i] = 2 * SLOT_WEIGHT * d * lossScale;
            }
        }
        if (grads == null) {
            return loss;
        }
        float[] dFeats = dSlots == null ? new float[feats.length] : tower.adapterBackward(dSlots, grads);
        for (int h = 0; h < heads; h++) {
            float scale = h < 2 ? n * lossScale : lossScale;
            for (int i = 0; i < dOut[h].length; i++) {
                dOut[h][i] *= scale;
            }
            String head = PATCH_HEAD + PATCH_HEADS[h];
            Ops.linearBackward(feats, n, vh, w(head + ".weight"), PATCH_WIDTHS[h], dOut[h], dFeats,
                    grads.of(head + ".weight"), grads.of(head + ".bias"));
        }
        tower.backwardFeatures(dFeats, grads);
        return loss;
    }

    /**
     * Cross-entropy of the place logits {@code z[at .. at + PLACES)} against a Gaussian of spread
     * {@link #PLACE_SIGMA} around place {@code k}, renormalised over the places; writes its gradient (softmax minus
     * target) into {@code dz} and returns the loss.
     */
    static double placeCrossEntropy(float[] z, float[] dz, int at, int k) {
        return Ops.softCrossEntropy(z, at, Episode.PatchTargets.PLACES, PLACE_TARGETS[k], dz);
    }

    /** Row {@code k}: the place target around place {@code k}, a Gaussian of spread {@link #PLACE_SIGMA} summing to 1. */
    private static final double[][] PLACE_TARGETS = new double[Episode.PatchTargets.PLACES][];

    static {
        int m = Episode.PatchTargets.PLACES;
        for (int k = 0; k < m; k++) {
            double[] q = new double[m];
            double sum = 0;
            for (int j = 0; j < m; j++) {
                double d = (j - k) / PLACE_SIGMA;
                q[j] = Math.exp(-0.5 * d * d);
                sum += q[j];
            }
            for (int j = 0; j < m; j++) {
                q[j] /= sum;
            }
            PLACE_TARGETS[k] = q;
        }
    }

    /** Mean cross-entropy of an episode (no gradients), for checks. */
    public double loss(Episode e) {
        if (e.patches() != null) {
            return patchStep(e, null, 1f) / e.targetCount();
        }
        Pass pass = new Pass(e);
        pass.forward();
        return pass.crossEntropy(new float[pass.logits.length], false) / e.targetCount();
    }

    /** Mean over the episode's answers (branches with targets) of each one's mean cross-entropy, for checks. */
    public double answerLoss(Episode e) {
        Pass pass = new Pass(e);
        pass.forward();
        return pass.crossEntropy(new float[pass.logits.length], true) / e.answerCount();
    }

    /**
     * What the tower's pretraining heads read from an image: for each head (kind logits, colour logits, box, place
     * logits of the four coordinates) its outputs {@code [patches, width]}. A diagnostic of what the tower sees.
     */
    public float[][] patchHeads(float[] pixels) {
        return readHeads(new Pass(new Episode(pixels, List.of())).new Tower(pixels).forwardFeatures(), PATCH_HEADS.length);
    }

    /** The first {@code heads} patch heads applied to the tower's features {@code [patches, vision hidden]}. */
    private float[][] readHeads(float[] feats, int heads) {
        int vh = config.vision().hiddenSize();
        int n = feats.length / vh;
        float[][] out = new float[heads][];
        for (int h = 0; h < heads; h++) {
            out[h] = new float[n * PATCH_WIDTHS[h]];
            String head = PATCH_HEAD + PATCH_HEADS[h];
            Ops.linear(feats, n, vh, w(head + ".weight"), PATCH_WIDTHS[h], w(head + ".bias"), out[h]);
        }
        return out;
    }

    /** Logits {@code [targets, vocab]} at the episode's target positions, branch by branch. */
    public float[] logits(Episode e) {
        Pass pass = new Pass(e);
        pass.forward();
        return pass.logits;
    }

    /**
     * How much attention the text pays to the image: per decoder layer, the attention probability that the branch
     * rows' queries put on the image slots, averaged over heads and rows. A diagnostic of whether the image can
     * reach the answer at all (near zero, no gradient flows into the vision side).
     */
    public double[] imageAttention(Episode e) {
        Pass pass = new Pass(e);
        pass.forward();
        double[] out = new double[pass.layers.size()];
        int p = pass.prefix;
        for (int l = 0; l < out.length; l++) {
            Pass.Layer layer = pass.layers.get(l);
            double sum = 0;
            int count = 0;
            for (int head = 0; head < config.numHeads(); head++) {
                for (int b = 0; b < pass.branchStart.length; b++) {
                    float[] probs = layer.probs[head * (1 + pass.branchStart.length) + 1 + b];
                    int n = e.branches().get(b).ids().length;
                    for (int i = 0; i < n; i++) {
                        for (int j = 1; j < p; j++) {
                            sum += probs[i * (p + n) + j];
                        }
                        count++;
                    }
                }
            }
            out[l] = sum / count;
        }
        return out;
    }

    /** The activations of one episode between forward and backward. */
    private final class Pass {
        final Episode episode;
        final int h = config.hiddenSize();
        final int inter = config.intermediateSize();
        final int heads = config.numHeads();
        final int hd = config.headDim();
        final int prefix;
        final int rows;
        final int[] branchStart;
        final int[] positions;
        final int[] visionRows;
        final int[] languageRows;
        final int[] targetRows;
        final int[] targetIds;
        /** The branch of each target row. */
        final int[] targetBranch;
        final int[] textRows;
        final int[] textIds;
        Tower tower;
        float[] h0;
        final List<Layer> layers = new ArrayList<>();
        float[] finalIn;
        float[] finalNorm;
        float[] logits;

        Pass(Episode e) {
            this.episode = e;
            boolean image = e.hasImageSlots();
            int imageTokens = image ? config.imageTokens() : 0;
            prefix = 1 + imageTokens;
            int n = prefix;
            branchStart = new int[e.branches().size()];
            for (int b = 0; b < branchStart.length; b++) {
                branchStart[b] = n;
                n += e.branches().get(b).ids().length;
            }
            rows = n;
            int[] prefixTypes = new int[prefix + 1];
            for (int i = 1; i <= imageTokens; i++) {
                prefixTypes[i] = PositionIds.VISION;
            }
            int[] prefixPos = PositionIds.build(prefixTypes);
            boolean[] vision = PositionIds.visionExpertMask(Arrays.copyOf(prefixTypes, prefix + 1));
            positions = new int[rows];
            System.arraycopy(prefixPos, 0, positions, 0, prefix);
            List<Integer> vis = new ArrayList<>();
            List<Integer> lang = new ArrayList<>();
            List<Integer> tRows = new ArrayList<>();
            List<Integer> tIds = new ArrayList<>();
            List<Integer> tBranch = new ArrayList<>();
            List<Integer> xRows = new ArrayList<>();
            List<Integer> xIds = new ArrayList<>();
            xRows.add(0);
            xIds.add(config.bosId());
            for (int i = 0; i < prefix; i++) {
                if (visualExperts && vision[i]) {
                    vis.add(i);
                } else {
                    lang.add(i);
                }
            }
            for (int b = 0; b < branchStart.length; b++) {
                Episode.Branch br = e.branches().get(b);
                for (int i = 0; i < br.ids().length; i++) {
                    int row = branchStart[b] + i;
                    positions[row] = prefixPos[prefix - 1] + 1 + i;
                    lang.add(row);
                    xRows.add(row);
                    xIds.add(br.ids()[i]);
                    if (br.targets()[i] >= 0) {
                        tRows.add(row);
                        tIds.add(br.targets()[i]);
                        tBranch.add(b);
                    }
                }
            }
            visionRows = ints(vis);
            languageRows = ints(lang);
            targetRows = ints(tRows);
            targetIds = ints(tIds);
            targetBranch = ints(tBranch);
            textRows = ints(xRows);
            textIds = ints(xIds);
        }

        void forward() {
            h0 = new float[rows * h];
            float[] emb = new float[textIds.length * h];
            Ops.embedding(w("model.embed_tokens.weight"), h, textIds, emb);
            for (int i = 0; i < textRows.length; i++) {
                System.arraycopy(emb, i * h, h0, textRows[i] * h, h);
            }
            if (episode.hasPixels()) {
                tower = new Tower(episode.pixels());
                float[] img = tower.forward();
                System.arraycopy(img, 0, h0, h, img.length);
            } else if (episode.slots() != null) {
                if (episode.slots().length != config.imageTokens() * h) {
                    throw new IllegalArgumentException("slot rows: " + episode.slots().length + " values, the image slots take "
                            + config.imageTokens() + " rows of " + h);
                }
                System.arraycopy(episode.slots(), 0, h0, h, episode.slots().length);
            }
            float[] x = h0;
            for (int l = 0; l < config.numLayers(); l++) {
                Layer layer = new Layer(l);
                x = layer.forward(x);
                layers.add(layer);
            }
            finalIn = Ops.gatherRows(x, h, targetRows);
            finalNorm = new float[finalIn.length];
            Ops.rmsNorm(finalIn, targetRows.length, h, w("model.norm.weight"), config.rmsNormEps(), finalNorm);
            logits = new float[targetRows.length * config.vocabSize()];
            Ops.linear(finalNorm, targetRows.length, h, w("lm_head.weight"), config.vocabSize(), null, logits);
        }

        /**
         * Summed cross-entropy over the targets; {@code dlogits} gets the gradient of the mean. {@code perAnswer}:
         * the sum over branches of each branch's mean, and {@code dlogits} gets the gradient of that sum.
         */
        double crossEntropy(float[] dlogits, boolean perAnswer) {
            int nt = targetRows.length;
            boolean[] mask = new boolean[nt];
            if (!perAnswer) {
                Arrays.fill(mask, true);
                return Ops.crossEntropy(logits, nt, config.vocabSize(), targetIds, mask, dlogits) * nt;
            }
            double sum = 0;
            float[] branchGrad = new float[dlogits.length];
            for (int b = 0; b < branchStart.length; b++) {
                boolean any = false;
                for (int i = 0; i < nt; i++) {
                    mask[i] = targetBranch[i] == b;
                    any |= mask[i];
                }
                if (any) {
                    sum += Ops.crossEntropy(logits, nt, config.vocabSize(), targetIds, mask, branchGrad);
                    for (int i = 0; i < dlogits.length; i++) {
                        dlogits[i] += branchGrad[i];
                    }
                }
            }
            return sum;
        }

        double backward(Grads g, float lossScale, boolean perAnswer) {
            int nt = targetRows.length;
            int vocab = config.vocabSize();
            float[] dlogits = new float[logits.length];
            double loss = crossEntropy(dlogits, perAnswer);
            // crossEntropy gives the gradient of this episode's mean (per token) or of its sum of answer means; the
            // caller's scale turns either into the batch mean.
            float s = perAnswer ? lossScale : lossScale * nt;
            for (int i = 0; i < dlogits.length; i++) {
                dlogits[i] *= s;
            }
            float[] dNorm = new float[finalNorm.length];
            Ops.linearBackward(finalNorm, nt, h, w("lm_head.weight"), vocab, dlogits, dNorm, g.of("lm_head.weight"), null);
            float[] dFinal = new float[finalIn.length];
            Ops.rmsNormBackward(finalIn, nt, h, w("model.norm.weight"), config.rmsNormEps(), dNorm, dFinal,
                    g.of("model.norm.weight"));
            float[] dx = new float[rows * h];
            Ops.scatterAddRows(dFinal, h, targetRows, dx);
            for (int l = layers.size() - 1; l >= 0; l--) {
                dx = layers.get(l).backward(dx, g);
            }
            float[] dEmbTable = g.of("model.embed_tokens.weight");
            if (dEmbTable != null) {
                Ops.embeddingBackward(h, textIds, Ops.gatherRows(dx, h, textRows), dEmbTable);
            }
            if (tower != null) {
                int n = config.imageTokens();
                tower.backward(Arrays.copyOfRange(dx, h, h + n * h), g);
            }
            return loss;
        }

        /** {@code y = x·Wᵀ} with vision rows through the visual expert's weight and the rest through the language one. */
        float[] routed(float[] x, int k, String vision, String language, int m) {
            float[] y = new float[rows * m];
            if (visionRows.length == 0) {
                Ops.linear(x, rows, k, w(language), m, null, y);
                return y;
            }
            float[] yv = new float[visionRows.length * m];
            Ops.linear(Ops.gatherRows(x, k, visionRows), visionRows.length, k, w(vision), m, null, yv);
            Ops.scatterAddRows(yv, m, visionRows, y);
            float[] yl = new float[languageRows.length * m];
            Ops.linear(Ops.gatherRows(x, k, languageRows), languageRows.length, k, w(language), m, null, yl);
            Ops.scatterAddRows(yl, m, languageRows, y);
            return y;
        }

        /** Backward of {@link #routed}: adds into {@code dx} and the two experts' weight gradients. */
        void routedBackward(float[] x, int k, String vision, String language, int m, float[] dy, float[] dx, Grads g) {
            if (visionRows.length == 0) {
                Ops.linearBackward(x, rows, k, w(language), m, dy, dx, g.of(language), null);
                return;
            }
            for (int pass = 0; pass < 2; pass++) {
                int[] sel = pass == 0 ? visionRows : languageRows;
                String name = pass == 0 ? vision : language;
                float[] dxs = new float[sel.length * k];
                Ops.linearBackward(Ops.gatherRows(x, k, sel), sel.length, k, w(name), m, Ops.gatherRows(dy, m, sel),
                        dxs, g.of(name), null);
                Ops.scatterAddRows(dxs, k, sel, dx);
            }
        }

        /** One decoder layer's activations. */
        final class Layer {
            final String s;
            float[] in;
            float[] n1;
            float[] q;
            float[] k;
            float[] v;
            float[] ctx;
            float[][] probs;
            float[][][] operands;
            float[] h1;
            float[] n2;
            float[] gate;
            float[] up;
            float[] act;

            Layer(int l) {
                s = "model.layers." + l + ".";
            }

            float[] forward(float[] x) {
                in = x;
                n1 = new float[rows * h];
                Ops.rmsNorm(x, rows, h, w(s + "input_layernorm.weight"), config.rmsNormEps(), n1);
                float[] qkv = routed(n1, h, s + "self_attn.vision_expert_query_key_value.weight",
                        s + "self_attn.language_expert_query_key_value.weight", 3 * h);
                float[] qRaw = columns(qkv, rows, 3 * h, 0, h);
                float[] kRaw = columns(qkv, rows, 3 * h, h, h);
                v = columns(qkv, rows, 3 * h, 2 * h, h);
                q = new float[rows * h];
                k = new float[rows * h];
                Ops.rotary(qRaw, rows, heads, hd, positions, config.ropeTheta(), q, false);
                Ops.rotary(kRaw, rows, heads, hd, positions, config.ropeTheta(), k, false);
                ctx = new float[rows * h];
                probs = new float[heads * (1 + branchStart.length)][];
                operands = new float[probs.length][][];
                for (int head = 0; head < heads; head++) {
                    attendHead(head);
                }
                float[] o = routed(ctx, h, s + "self_attn.vision_expert_dense.weight",
                        s + "self_attn.language_expert_dense.weight", h);
                h1 = new float[rows * h];
                for (int i = 0; i < h1.length; i++) {
                    h1[i] = x[i] + o[i];
                }
                n2 = new float[rows * h];
                Ops.rmsNorm(h1, rows, h, w(s + "post_attention_layernorm.weight"), config.rmsNormEps(), n2);
                gate = routed(n2, h, s + "mlp.vision_mlp.gate_proj.weight", s + "mlp.language_mlp.gate_proj.weight", inter);
                up = routed(n2, h, s + "mlp.vision_mlp.up_proj.weight", s + "mlp.language_mlp.up_proj.weight", inter);
                act = new float[rows * inter];
                Ops.siluGate(gate, up, act, act.length);
                float[] mo = routed(act, inter, s + "mlp.vision_mlp.down_proj.weight",
                        s + "mlp.language_mlp.down_proj.weight", h);
                float[] out = new float[rows * h];
                for (int i = 0; i < out.length; i++) {
                    out[i] = h1[i] + mo[i];
                }
                return out;
            }

            /**
             * The prefix attends causally to itself; each branch attends to the prefix and causally to itself. The
             * per-segment operands (one head's queries, keys and values, a branch's keys behind the prefix's) are kept
             * for the backward pass, indexed like {@link #probs}.
             */
            void attendHead(int head) {
                int col = head * hd;
                int first = head * (1 + branchStart.length);
                float[] kp = block(k, 0, prefix, col);
                float[] vp = block(v, 0, prefix, col);
                segment(first, block(q, 0, prefix, col), kp, vp, prefix, prefix, 0, 0, col);
                for (int b = 0; b < branchStart.length; b++) {
                    int n = episode.branches().get(b).ids().length;
                    segment(first + 1 + b, block(q, branchStart[b], n, col), concat(kp, block(k, branchStart[b], n, col)),
                            concat(vp, block(v, branchStart[b], n, col)), n, prefix + n, prefix, branchStart[b], col);
                }
            }

            private void segment(int index, float[] qs, float[] ks, float[] vs, int nq, int nk, int offset, int row,
                                 int col) {
                float[] o = new float[nq * hd];
                probs[index] = Ops.attention(qs, ks, vs, nq, nk, hd, offset, o);
                operands[index] = new float[][]{qs, ks, vs};
                putBlock(ctx, o, row, nq, col);
            }

            float[] backward(float[] dOut, Grads g) {
                // h2 = h1 + MLP(RMSNorm(h1))
                float[] dh1 = dOut.clone();
                float[] dAct = new float[rows * inter];
                routedBackward(act, inter, s + "mlp.vision_mlp.down_proj.weight", s + "mlp.language_mlp.down_proj.weight",
                        h, dOut, dAct, g);
                float[] dGate = new float[rows * inter];
                float[] dUp = new float[rows * inter];
                Ops.siluGateBackward(gate, up, dAct, dGate, dUp, dAct.length);
                float[] dn2 = new float[rows * h];
                routedBackward(n2, h, s + "mlp.vision_mlp.gate_proj.weight", s + "mlp.language_mlp.gate_proj.weight",
                        inter, dGate, dn2, g);
                routedBackward(n2, h, s + "mlp.vision_mlp.up_proj.weight", s + "mlp.language_mlp.up_proj.weight",
                        inter, dUp, dn2, g);
                Ops.rmsNormBackward(h1, rows, h, w(s + "post_attention_layernorm.weight"), config.rmsNormEps(), dn2, dh1,
                        g.of(s + "post_attention_layernorm.weight"));
                // h1 = x + Dense(Attention(RoPE(q), RoPE(k), v))
                float[] dx = dh1.clone();
                float[] dCtx = new float[rows * h];
                routedBackward(ctx, h, s + "self_attn.vision_expert_dense.weight", s + "self_attn.language_expert_dense.weight",
                        h, dh1, dCtx, g);
                float[] dq = new float[rows * h];
                float[] dk = new float[rows * h];
                float[] dv = new float[rows * h];
                for (int head = 0; head < heads; head++) {
                    attendHeadBackward(head, dCtx, dq, dk, dv);
                }
                float[] dqkv = new float[rows * 3 * h];
                float[] t = new float[rows * h];
                Ops.rotaryBackward(dq, rows, heads, hd, positions, config.ropeTheta(), t);
                putColumns(dqkv, rows, 3 * h, 0, h, t);
                Arrays.fill(t, 0f);
                Ops.rotaryBackward(dk, rows, heads, hd, positions, config.ropeTheta(), t);
                putColumns(dqkv, rows, 3 * h, h, h, t);
                putColumns(dqkv, rows, 3 * h, 2 * h, h, dv);
                float[] dn1 = new float[rows * h];
                routedBackward(n1, h, s + "self_attn.vision_expert_query_key_value.weight",
                        s + "self_attn.language_expert_query_key_value.weight", 3 * h, dqkv, dn1, g);
                Ops.rmsNormBackward(in, rows, h, w(s + "input_layernorm.weight"), config.rmsNormEps(), dn1, dx,
                        g.of(s + "input_layernorm.weight"));
                return dx;
            }

            void attendHeadBackward(int head, float[] dCtx, float[] dq, float[] dk, float[] dv) {
                int col = head * hd;
                int first = head * (1 + branchStart.length);
                float[] dkp = new float[prefix * hd];
                float[] dvp = new float[prefix * hd];
                float[] dqp = segmentBackward(first, prefix, prefix, 0, col, dCtx, dkp, dvp);
                addBlock(dq, dqp, 0, 0, prefix, col);
                for (int b = 0; b < branchStart.length; b++) {
                    int n = episode.branches().get(b).ids().length;
                    float[] dkc = new float[(prefix + n) * hd];
                    float[] dvc = new float[(prefix + n) * hd];
                    float[] dqb = segmentBackward(first + 1 + b, n, prefix + n, branchStart[b], col, dCtx, dkc, dvc);
                    for (int i = 0; i < prefix * hd; i++) {
                        dkp[i] += dkc[i];
                        dvp[i] += dvc[i];
                    }
                    addBlock(dq, dqb, 0, branchStart[b], n, col);
                    addBlock(dk, dkc, prefix, branchStart[b], n, col);
                    addBlock(dv, dvc, prefix, branchStart[b], n, col);
                }
                addBlock(dk, dkp, 0, 0, prefix, col);
                addBlock(dv, dvp, 0, 0, prefix, col);
            }

            /** Backward of one {@link #segment}: returns dq, adds into {@code dks} and {@code dvs}. */
            private float[] segmentBackward(int index, int nq, int nk, int row, int col, float[] dCtx, float[] dks,
                                            float[] dvs) {
                float[][] qkv = operands[index];
                float[] dqs = new float[nq * hd];
                Ops.attentionBackward(qkv[0], qkv[1], qkv[2], probs[index], nq, nk, hd, block(dCtx, row, nq, col), dqs,
                        dks, dvs);
                return dqs;
            }
        }

        /** The EVA2-CLIP tower and the GLU adapter for one image. */
        final class Tower {
            final float[] pixels;
            final int vh = config.vision().hiddenSize();
            final int vi = config.vision().intermediateSize();
            final int vheads = config.vision().numHeads();
            final int vd = vh / vheads;
            final int grid = config.vision().grid();
            final int patches = grid * grid;
            final int t = patches + 1;
            final float eps = config.vision().layerNormEps();
            float[] unfolded;
            final List<float[][]> acts = new ArrayList<>();
            float[] feats;
            float[] y;
            float[] normed;
            float[] gelu;
            float[] gate;
            float[] up;
            float[] act;

            Tower(float[] pixels) {
                this.pixels = pixels;
            }

            /** Image rows {@code [boi; adapter(patches); eoi]}. */
            float[] forward() {
                forwardFeatures();
                return adapterForward();
            }

            /** The tower's output for each patch, {@code [patches, vision hidden]} (cls dropped). */
            float[] forwardFeatures() {
                int p = config.vision().patchSize();
                unfolded = Ops.unfold(pixels, 3, config.vision().imageSize(), p);
                float[] pe = new float[patches * vh];
                Ops.linear(unfolded, patches, 3 * p * p, w(V + "patch_embedding.proj.weight"), vh,
                        w(V + "patch_embedding.proj.bias"), pe);
                float[] x = new float[t * vh];
                System.arraycopy(w(V + "patch_embedding.cls_embedding"), 0, x, 0, vh);
                System.arraycopy(pe, 0, x, vh, pe.length);
                float[] pos = w(V + "patch_embedding.position_embedding.weight");
                for (int i = 0; i < x.length; i++) {
                    x[i] += pos[i];
                }
                for (int l = 0; l < config.vision().numLayers(); l++) {
                    x = layerForward(l, x);
                }
                feats = Arrays.copyOfRange(x, vh, x.length);
                return feats;
            }

            /** The GLU adapter over {@link #feats}, between boi and eoi. */
            float[] adapterForward() {
                y = new float[patches * h];
                Ops.linear(feats, patches, vh, w(V + "linear_proj.linear_proj.weight"), h, null, y);
                normed = new float[y.length];
                Ops.layerNorm(y, patches, h, w(V + "linear_proj.norm1.weight"), w(V + "linear_proj.norm1.bias"),
                        ADAPTER_LN_EPS, normed);
                gelu = new float[y.length];
                Ops.gelu(normed, gelu, gelu.length);
                gate = new float[patches * inter];
                up = new float[patches * inter];
                Ops.linear(gelu, patches, h, w(V + "linear_proj.gate_proj.weight"), inter, null, gate);
                Ops.linear(gelu, patches, h, w(V + "linear_proj.dense_h_to_4h.weight"), inter, null, up);
                act = new float[patches * inter];
                Ops.siluGate(gate, up, act, act.length);
                float[] out = new float[(patches + 2) * h];
                System.arraycopy(w(V + "boi"), 0, out, 0, h);
                float[] proj = new float[patches * h];
                Ops.linear(act, patches, inter, w(V + "linear_proj.dense_4h_to_h.weight"), h, null, proj);
                System.arraycopy(proj, 0, out, h, proj.length);
                System.arraycopy(w(V + "eoi"), 0, out, (patches + 1) * h, h);
                return out;
            }

            /** Sandwich layer: {@code x += LN(Attn(x))}, then {@code x += LN(MLP(x))}. */
            float[] layerForward(int l, float[] x) {
                String s = V + "transformer.layers." + l + ".";
                float[] qkv = new float[t * 3 * vh];
                Ops.linear(x, t, vh, w(s + "attention.query_key_value.weight"), 3 * vh,
                        w(s + "attention.query_key_value.bias"), qkv);
                float[] ctx = new float[t * vh];
                float[][] probs = new float[vheads][];
                float[][] heads = new float[3 * vheads][];
                for (int head = 0; head < vheads; head++) {
                    float[] o = new float[t * vd];
                    for (int part = 0; part < 3; part++) {
                        heads[3 * head + part] = columns(qkv, t, 3 * vh, part * vh + head * vd, vd);
                    }
                    probs[head] = Ops.attention(heads[3 * head], heads[3 * head + 1], heads[3 * head + 2], t, t, vd, t, o);
                    putColumns(ctx, t, vh, head * vd, vd, o);
                }
                float[] att = new float[t * vh];
                Ops.linear(ctx, t, vh, w(s + "attention.dense.weight"), vh, w(s + "attention.dense.bias"), att);
                float[] ln1 = new float[t * vh];
                Ops.layerNorm(att, t, vh, w(s + "input_layernorm.weight"), w(s + "input_layernorm.bias"), eps, ln1);
                float[] x1 = new float[t * vh];
                for (int i = 0; i < x1.length; i++) {
                    x1[i] = x[i] + ln1[i];
                }
                float[] f1 = new float[t * vi];
                Ops.linear(x1, t, vh, w(s + "mlp.fc1.weight"), vi, w(s + "mlp.fc1.bias"), f1);
                float[] g = new float[f1.length];
                Ops.gelu(f1, g, g.length);
                float[] m = new float[t * vh];
                Ops.linear(g, t, vi, w(s + "mlp.fc2.weight"), vh, w(s + "mlp.fc2.bias"), m);
                float[] ln2 = new float[t * vh];
                Ops.layerNorm(m, t, vh, w(s + "post_attention_layernorm.weight"), w(s + "post_attention_layernorm.bias"),
                        eps, ln2);
                float[] x2 = new float[t * vh];
                for (int i = 0; i < x2.length; i++) {
                    x2[i] = x1[i] + ln2[i];
                }
                acts.add(new float[][]{x, qkv, ctx, att, x1, f1, g, m});
                acts.add(probs);
                acts.add(heads);
                return x2;
            }

            void backward(float[] dOut, Grads gr) {
                backwardFeatures(adapterBackward(dOut, gr), gr);
            }

            /** Backward of {@link #adapterForward}: the weights' gradients, and returns that of the patch features. */
            float[] adapterBackward(float[] dOut, Grads gr) {
                float[] dboi = gr.of(V + "boi");
                float[] deoi = gr.of(V + "eoi");
                for (int i = 0; i < h; i++) {
                    if (dboi != null) {
                        dboi[i] += dOut[i];
                    }
                    if (deoi != null) {
                        deoi[i] += dOut[(patches + 1) * h + i];
                    }
                }
                float[] dProj = Arrays.copyOfRange(dOut, h, (patches + 1) * h);
                float[] dAct = new float[act.length];
                Ops.linearBackward(act, patches, inter, w(V + "linear_proj.dense_4h_to_h.weight"), h, dProj, dAct,
                        gr.of(V + "linear_proj.dense_4h_to_h.weight"), null);
                float[] dGate = new float[gate.length];
                float[] dUp = new float[up.length];
                Ops.siluGateBackward(gate, up, dAct, dGate, dUp, dAct.length);
                float[] dGelu = new float[gelu.length];
                Ops.linearBackward(gelu, patches, h, w(V + "linear_proj.gate_proj.weight"), inter, dGate, dGelu,
                        gr.of(V + "linear_proj.gate_proj.weight"), null);
                Ops.linearBackward(gelu, patches, h, w(V + "linear_proj.dense_h_to_4h.weight"), inter, dUp, dGelu,
                        gr.of(V + "linear_proj.dense_h_to_4h.weight"), null);
                float[] dNormed = new float[normed.length];
                Ops.geluBackward(normed, dGelu, dNormed, dNormed.length);
                float[] dy = new float[y.length];
                Ops.layerNormBackward(y, patches, h, w(V + "linear_proj.norm1.weight"), ADAPTER_LN_EPS, dNormed, dy,
                        gr.of(V + "linear_proj.norm1.weight"), gr.of(V + "linear_proj.norm1.bias"));
                float[] dFeats = new float[feats.length];
                Ops.linearBackward(feats, patches, vh, w(V + "linear_proj.linear_proj.weight"), h, dy, dFeats,
                        gr.of(V + "linear_proj.linear_proj.weight"), null);
                return dFeats;
            }

            /** Backward of {@link #forwardFeatures} from the gradient of the patch features. */
            void backwardFeatures(float[] dFeats, Grads gr) {
                float[] dx = new float[t * vh];
                System.arraycopy(dFeats, 0, dx, vh, dFeats.length);
                for (int l = config.vision().numLayers() - 1; l >= 0; l--) {
                    dx = layerBackward(l, dx, gr);
                }
                float[] dPos = gr.of(V + "patch_embedding.position_embedding.weight");
                if (dPos != null) {
                    for (int i = 0; i < dx.length; i++) {
                        dPos[i] += dx[i];
                    }
                }
                float[] dCls = gr.of(V + "patch_embedding.cls_embedding");
                if (dCls != null) {
                    for (int i = 0; i < vh; i++) {
                        dCls[i] += dx[i];
                    }
                }
                int p = config.vision().patchSize();
                float[] dPe = Arrays.copyOfRange(dx, vh, dx.length);
                Ops.linearBackward(unfolded, patches, 3 * p * p, w(V + "patch_embedding.proj.weight"), vh, dPe, null,
                        gr.of(V + "patch_embedding.proj.weight"), gr.of(V + "patch_embedding.proj.bias"));
            }

            float[] layerBackward(int l, float[] dOut, Grads gr) {
                String s = V + "transformer.layers." + l + ".";
                float[][] a = acts.get(3 * l);
                float[][] probs = acts.get(3 * l + 1);
                float[][] heads = acts.get(3 * l + 2);
                float[] x = a[0];
                float[] qkv = a[1];
                float[] ctx = a[2];
                float[] att = a[3];
                float[] x1 = a[4];
                float[] f1 = a[5];
                float[] g = a[6];
                float[] m = a[7];
                float[] dx1 = dOut.clone();
                float[] dm = new float[m.length];
                Ops.layerNormBackward(m, t, vh, w(s + "post_attention_layernorm.weight"), eps, dOut, dm,
                        gr.of(s + "post_attention_layernorm.weight"), gr.of(s + "post_attention_layernorm.bias"));
                float[] dg = new float[g.length];
                Ops.linearBackward(g, t, vi, w(s + "mlp.fc2.weight"), vh, dm, dg, gr.of(s + "mlp.fc2.weight"),
                        gr.of(s + "mlp.fc2.bias"));
                float[] df1 = new float[f1.length];
                Ops.geluBackward(f1, dg, df1, df1.length);
                Ops.linearBackward(x1, t, vh, w(s + "mlp.fc1.weight"), vi, df1, dx1, gr.of(s + "mlp.fc1.weight"),
                        gr.of(s + "mlp.fc1.bias"));
                float[] dx = dx1.clone();
                float[] dAtt = new float[att.length];
                Ops.layerNormBackward(att, t, vh, w(s + "input_layernorm.weight"), eps, dx1, dAtt,
                        gr.of(s + "input_layernorm.weight"), gr.of(s + "input_layernorm.bias"));
                float[] dCtx = new float[ctx.length];
                Ops.linearBackward(ctx, t, vh, w(s + "attention.dense.weight"), vh, dAtt, dCtx,
                        gr.of(s + "attention.dense.weight"), gr.of(s + "attention.dense.bias"));
                float[] dqkv = new float[qkv.length];
                for (int head = 0; head < vheads; head++) {
                    float[] dq = new float[t * vd];
                    float[] dk = new float[t * vd];
                    float[] dv = new float[t * vd];
                    Ops.attentionBackward(heads[3 * head], heads[3 * head + 1], heads[3 * head + 2], probs[head], t, t, vd,
                            columns(dCtx, t, vh, head * vd, vd), dq, dk, dv);
                    putColumns(dqkv, t, 3 * vh, head * vd, vd, dq);
                    putColumns(dqkv, t, 3 * vh, vh + head * vd, vd, dk);
                    putColumns(dqkv, t, 3 * vh, 2 * vh + head * vd, vd, dv);
                }
                Ops.linearBackward(x, t, vh, w(s + "attention.query_key_value.weight"), 3 * vh, dqkv, dx,
                        gr.of(s + "attention.query_key_value.weight"), gr.of(s + "attention.query_key_value.bias"));
                return dx;
            }
        }
    }

    // ---------------------------------------------------------------- row and column blocks

    private static int[] ints(List<Integer> l) {
        return l.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Copies {@code rows} runs of {@code width} floats between two row-major layouts of different strides. */
    private static void copyStrided(float[] src, int srcOffset, int srcStride, float[] dst, int dstOffset, int dstStride,
                                    int rows, int width) {
        for (int r = 0; r < rows; r++) {
            System.arraycopy(src, srcOffset + r * srcStride, dst, dstOffset + r * dstStride, width);
        }
    }

    /** Columns {@code [col, col + width)} of a {@code [rows, stride]} block. */
    static float[] columns(float[] a, int rows, int stride, int col, int width) {
        float[] out = new float[rows * width];
        copyStrided(a, col, stride, out, 0, width, rows, width);
        return out;
    }

    /** Writes {@code src [rows, width]} into columns {@code [col, col + width)} of {@code dst [rows, stride]}. */
    static void putColumns(float[] dst, int rows, int stride, int col, int width, float[] src) {
        copyStrided(src, 0, width, dst, col, stride, rows, width);
    }

    /** One head's {@code [n, d]} block of rows {@code [row, row + n)} of an {@code [*, H]} activation. */
    private float[] block(float[] a, int row, int n, int col) {
        int h = config.hiddenSize();
        float[] out = new float[n * config.headDim()];
        copyStrided(a, row * h + col, h, out, 0, config.headDim(), n, config.headDim());
        return out;
    }

    /** Writes one head's block back into an {@code [*, H]} activation. */
    private void putBlock(float[] dst, float[] src, int row, int n, int col) {
        int h = config.hiddenSize();
        copyStrided(src, 0, config.headDim(), dst, row * h + col, h, n, config.headDim());
    }

    /** Adds rows {@code [from, from + n)} of {@code src [*, d]} into {@code dst} rows {@code [row, row + n)}, columns at {@code col}. */
    private void addBlock(float[] dst, float[] src, int from, int row, int n, int col) {
        int h = config.hiddenSize();
        int d = config.headDim();
        for (int r = 0; r < n; r++) {
            for (int t = 0; t < d; t++) {
                dst[(row + r) * h + col + t] += src[(from + r) * d + t];
            }
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
