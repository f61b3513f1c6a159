package dev.cogvlm4j.train.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.io.Quantizer;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.CogVlmModel;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.train.Trainer;
import dev.cogvlm4j.train.nn.Ops;
import dev.cogvlm4j.train.nn.Param;
import dev.cogvlm4j.train.world.ShapesWorld;
import dev.cogvlm4j.vision.PreparedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole trainable model: its backward pass against finite differences of its loss (every tensor, deep and
 * shallow routing, two branches sharing an image prefix), and its forward pass against the inference engine on the
 * checkpoint it exports.
 */
class CogVlmNetTest {
    static final int VOCAB = 40;

    static ObjectNode configJson() {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.putArray("architectures").add("CogVLMForCausalLM");
        c.put("hidden_size", 16).put("intermediate_size", 24).put("num_hidden_layers", 2).put("num_attention_heads", 2)
                .put("vocab_size", VOCAB).put("rms_norm_eps", 1e-5).put("bos_token_id", 1).put("eos_token_id", 2)
                .put("pad_token_id", 0).put("template_version", "chat").put("max_position_embeddings", 256);
        c.putObject("vision_config").put("hidden_size", 8).put("intermediate_size", 16).put("num_hidden_layers", 2)
                .put("num_heads", 2).put("image_size", 28).put("patch_size", 14).put("num_positions", 5)
                .put("layer_norm_eps", 1e-6);
        return c;
    }

    static CogVlmConfig config() {
        return CogVlmConfig.parse(configJson(), java.util.Set.of());
    }

    /** Weights scaled up from the 0.02 initialisation so that gradients stand well above float rounding. */
    static CogVlmNet net(long seed) {
        return net(seed, 15);
    }

    static CogVlmNet net(long seed, float scale) {
        CogVlmNet net = CogVlmNet.initialize(config(), seed);
        Random r = new Random(seed);
        for (Param p : net.params()) {
            float[] v = p.value();
            for (int i = 0; i < v.length; i++) {
                v[i] = p.name().contains("norm") ? 1f + 0.2f * (float) r.nextGaussian() : v[i] * scale + 0.01f * (float) r.nextGaussian();
            }
        }
        return net;
    }

    static Episode episode(long seed) {
        Random r = new Random(seed);
        float[] pixels = new float[3 * 28 * 28];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = (float) r.nextGaussian();
        }
        List<Episode.Branch> branches = new ArrayList<>();
        for (int b = 0; b < 2; b++) {
            int n = 3 + b;
            int[] ids = new int[n];
            int[] targets = new int[n];
            for (int i = 0; i < n; i++) {
                ids[i] = 3 + r.nextInt(VOCAB - 3);
                targets[i] = i == 0 ? -1 : 3 + r.nextInt(VOCAB - 3);
            }
            branches.add(new Episode.Branch(ids, targets));
        }
        return new Episode(pixels, branches);
    }

    private static void checkGradients(CogVlmNet net, Episode e) {
        checkGradients(net, e, 1e-2);
    }

    private static void checkGradients(CogVlmNet net, Episode e, double h) {
        checkGradients(net, e, h, false);
    }

    /** With {@code perAnswer}, against the mean over answers of each answer's mean (the recipe's "loss": "answer"). */
    private static void checkGradients(CogVlmNet net, Episode e, double h, boolean perAnswer) {
        Grads g = new Grads(net);
        net.forwardBackward(e, g, 1f / (perAnswer ? e.answerCount() : e.targetCount()), perAnswer);
        Random r = new Random(3);
        List<String> bad = new ArrayList<>();
        int checked = 0;
        for (Param p : net.params()) {
            float[] analytic = g.of(p.name());
            boolean usedRows = !(!net.visualExperts() && (p.name().contains("vision_expert") || p.name().contains("vision_mlp")));
            float[] v = p.value();
            // Embedding rows: check the ones the episode uses; elsewhere any coordinate.
            for (int trial = 0; trial < 3; trial++) {
                int i = r.nextInt(v.length);
                if ((p.name().contains("embed_tokens") || p.name().equals("lm_head.weight")) && !e.branches().isEmpty()) {
                    int row = e.branches().get(0).ids()[trial % 3];
                    i = row * 16 + r.nextInt(16);
                }
                float keep = v[i];
                v[i] = (float) (keep + h);
                double up = perAnswer ? net.answerLoss(e) : net.loss(e);
                v[i] = (float) (keep - h);
                double down = perAnswer ? net.answerLoss(e) : net.loss(e);
                v[i] = keep;
                double numeric = (up - down) / (2 * h);
                double err = Math.abs(numeric - analytic[i]) / Math.max(5e-3, Math.abs(numeric) + Math.abs(analytic[i]));
                checked++;
                if (err > 3e-2) {
                    bad.add(p.name() + "[" + i + "] numeric " + numeric + " analytic " + analytic[i]);
                }
                if (!usedRows) {
                    assertEquals(0f, analytic[i], p.name() + " is unused in shallow alignment");
                }
            }
        }
        assertTrue(checked > 100, "checked " + checked);
        assertTrue(bad.isEmpty(), "gradients off for: " + String.join("; ", bad));
    }

    @Test
    void deepFusionGradientsMatchFiniteDifferences() {
        checkGradients(net(5), episode(9));
    }

    /**
     * The per-answer loss (each answer's mean cross-entropy, averaged over answers): its gradients match finite
     * differences, and it differs from the per-token mean when the answers differ in length (3 and 4 tokens here).
     */
    @Test
    void perAnswerLossGradientsMatchFiniteDifferences() {
        CogVlmNet net = net(5);
        Episode e = episode(9);
        checkGradients(net, e, 1e-2, true);
        assertNotEquals(net.loss(e), net.answerLoss(e), 1e-6);
    }

    @Test
    void shallowAlignmentGradientsMatchFiniteDifferences() {
        CogVlmNet net = net(6);
        net.setVisualExperts(false);
        checkGradients(net, episode(10));
    }

    @Test
    void textOnlyGradientsMatchFiniteDifferences() {
        Episode e = episode(11);
        checkGradients(net(7), new Episode(null, e.branches()));
    }

    @Test
    void towerPretrainingGradientsMatchFiniteDifferences() {
        // Four patches: two covered (kind, colour and box count), one uncovered (kind and colour "none" only), one
        // covered again; every tower tensor and the three heads are checked, the decoder gets nothing.
        // With places, each covered patch's four coordinates are also classes (the place head is checked too).
        // With slot rows, the adapter's patch rows are also scored against them (the adapter is checked too).
        for (boolean places : new boolean[]{false, true}) {
            checkTowerPretraining(places, false);
        }
        checkTowerPretraining(true, true);
    }

    private void checkTowerPretraining(boolean places, boolean slots) {
        Episode e = episode(19);
        float[] rows = null;
        if (slots) {
            Random r = new Random(4);
            rows = new float[6 * 16];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = r.nextInt(3) == 0 ? 1f : 0f;
            }
        }
        Episode.PatchTargets t = new Episode.PatchTargets(new int[]{0, 3, 2, 1}, new int[]{5, 6, 1, 0},
                new float[]{0.1f, 0.2f, 0.4f, 0.5f, 0, 0, 0, 0, 0.5f, 0.1f, 0.9f, 0.6f, 0.3f, 0.3f, 0.7f, 0.999f}, places,
                rows);
        Episode patches = new Episode(e.pixels(), List.of(), t);
        // Weights at five times the initialisation, small heads and a finer step: the heads read the tower's
        // residual stream directly, where the other tests' scale makes the losses so large and curved that central
        // differences lose accuracy.
        CogVlmNet net = net(22, 5);
        for (Param p : net.params()) {
            // With slot rows the adapter's output is scored directly too; its last projection at a three-hundredth
            // keeps that squared error near the other terms, where float rounding of the loss stays below the
            // differences' resolution.
            if (p.name().startsWith(CogVlmNet.TRAINING_ONLY) || (slots && p.name().contains("dense_4h_to_h"))) {
                for (int i = 0; i < p.value().length; i++) {
                    p.value()[i] /= slots && p.name().contains("dense_4h_to_h") ? 300 : 10;
                }
            }
        }
        checkGradients(net, patches, 3e-3);
        Grads g = new Grads(net);
        net.forwardBackward(patches, g, 1f);
        for (float v : g.of("model.layers.0.mlp.vision_mlp.up_proj.weight")) {
            assertEquals(0f, v, "the decoder takes no part in the tower's pretraining");
        }
        float[] head = g.of("train.patch_head.box.weight");
        assertTrue(java.util.stream.IntStream.range(0, head.length).anyMatch(i -> head[i] != 0f), "the box head learns");
        float[] place = g.of("train.patch_head.place.weight");
        assertEquals(places, java.util.stream.IntStream.range(0, place.length).anyMatch(i -> place[i] != 0f),
                "the place head learns exactly when the targets have places");
        float[] adapter = g.of("model.vision.linear_proj.dense_4h_to_h.weight");
        assertEquals(slots, java.util.stream.IntStream.range(0, adapter.length).anyMatch(i -> adapter[i] != 0f),
                "the adapter learns exactly when the targets have slot rows");
        for (float v : g.of("model.vision.boi")) {
            assertEquals(0f, v, "boi is not a slot row the adapter writes");
        }
    }

    @Test
    void slotRowGradientsMatchFiniteDifferences() {
        // The language stage that reads scenes from the image slots: given rows instead of zeros, through the
        // language weights on every row (as in the language stages).
        Episode e = episode(15);
        Random r = new Random(6);
        float[] rows = new float[6 * 16];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) r.nextGaussian();
        }
        CogVlmNet net = net(10);
        net.setVisualExperts(false);
        Episode slots = Episode.slots(rows, e.branches());
        checkGradients(net, slots);
        assertNotEquals(net.loss(Episode.blank(e.branches())), net.loss(slots), 1e-6, "the rows reach the model");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> net.loss(Episode.slots(new float[5 * 16], e.branches())));
        assertTrue(bad.getMessage().contains("6 rows of 16"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Episode(e.pixels(), e.branches(), null, rows),
                "slot rows stand in for an image, never beside one");
        IllegalArgumentException wrongTargets = assertThrows(IllegalArgumentException.class, () -> net.loss(new Episode(
                e.pixels(), List.of(), new Episode.PatchTargets(new int[4], new int[4], new float[16], false, new float[16]))));
        assertTrue(wrongTargets.getMessage().contains("slot targets"), wrongTargets.getMessage());
    }

    @Test
    void patchHeadsReadWhatThePretrainingStepScores() {
        // The diagnostic's box outputs are the ones the pretraining step compares with the targets: with the box as
        // the only target the step's loss is BOX_WEIGHT x the squared error of exactly these numbers.
        CogVlmNet net = net(31);
        float[] pixels = episode(29).pixels();
        float[][] heads = net.patchHeads(pixels);
        int n = heads[0].length / Episode.PatchTargets.KINDS;
        assertEquals(4, n, "the test model's tower has a 2x2 grid");
        assertEquals(n * Episode.PatchTargets.COLOURS, heads[1].length);
        assertEquals(4 * n, heads[2].length);
        assertEquals(4 * n * Episode.PatchTargets.PLACES, heads[3].length);
        float[] box = new float[4 * n];
        java.util.Arrays.fill(box, 0.5f);
        int[] none = new int[n];
        java.util.Arrays.fill(none, Episode.PatchTargets.KINDS - 1);
        int[] noColour = new int[n];
        java.util.Arrays.fill(noColour, Episode.PatchTargets.COLOURS - 1);
        int[] kinds = none.clone();
        kinds[2] = 1;
        double withBox = net.loss(new Episode(pixels, List.of(), new Episode.PatchTargets(kinds, noColour, box)));
        double without = net.loss(new Episode(pixels, List.of(), new Episode.PatchTargets(none, noColour, box)));
        double squared = 0;
        for (int c = 8; c < 12; c++) {
            squared += (heads[2][c] - 0.5) * (heads[2][c] - 0.5);
        }
        // Changing patch 2's kind also changes its kind cross-entropy; take that out with the kind head's logits.
        double ceNone = logSoftmax(heads[0], 2 * 4, 4, 3);
        double ceOne = logSoftmax(heads[0], 2 * 4, 4, 1);
        assertEquals(10 * squared + (ceOne - ceNone), (withBox - without) * n, 1e-4);
    }

    /** The cross-entropy of one row of logits {@code z[at .. at + m)} against class {@code k}. */
    private static double logSoftmax(float[] z, int at, int m, int k) {
        return Ops.crossEntropy(java.util.Arrays.copyOfRange(z, at, at + m), 1, m, new int[]{k}, new boolean[]{true},
                new float[m]);
    }

    @Test
    void placeCrossEntropyIsAgainstASpreadTarget() {
        // Equal logits: the loss is log(100) whatever the target, and the gradient is 1/100 minus the target, which
        // peaks at the true place and sums to zero.
        int m = Episode.PatchTargets.PLACES;
        float[] z = new float[2 * m];
        float[] dz = new float[2 * m];
        double loss = CogVlmNet.placeCrossEntropy(z, dz, m, 37);
        assertEquals(Math.log(m), loss, 1e-9);
        double sum = 0;
        for (int j = 0; j < m; j++) {
            sum += dz[m + j];
            assertEquals(0f, dz[j], "only the coordinate's own logits");
        }
        assertEquals(0, sum, 1e-6);
        assertTrue(dz[m + 37] < dz[m + 36] && dz[m + 36] < dz[m + 35] && dz[m + 35] < dz[m + 30]);
        assertEquals(dz[m + 36], dz[m + 38], 1e-7, "symmetric around the place");
        // Logits that already put the mass where the target does cost less than logits that put it one place off.
        float[] right = new float[m];
        float[] off = new float[m];
        for (int j = 0; j < m; j++) {
            right[j] = (float) (-0.5 * (j - 37) * (j - 37));
            off[j] = (float) (-0.5 * (j - 38) * (j - 38));
        }
        assertTrue(CogVlmNet.placeCrossEntropy(right, new float[m], 0, 37)
                < CogVlmNet.placeCrossEntropy(off, new float[m], 0, 37));
    }

    @Test
    void malformedPatchTargetsAreRejected() {
        float[] box = new float[16];
        assertThrows(IllegalArgumentException.class, () -> new Episode.PatchTargets(new int[4], new int[3], box));
        assertThrows(IllegalArgumentException.class, () -> new Episode.PatchTargets(new int[4], new int[4], new float[15]));
        assertThrows(IllegalArgumentException.class,
                () -> new Episode.PatchTargets(new int[]{0, 4, 0, 0}, new int[4], box), "kind 4 is not a class");
        assertThrows(IllegalArgumentException.class,
                () -> new Episode.PatchTargets(new int[4], new int[]{0, 0, -1, 0}, box), "colour -1 is not a class");
        // Labels for another grid than the tower's: one line, not an index error deep in the heads.
        Episode wrongGrid = new Episode(episode(23).pixels(), List.of(),
                new Episode.PatchTargets(new int[9], new int[9], new float[36]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> net(24).loss(wrongGrid));
        assertTrue(e.getMessage().contains("9 patches"), e.getMessage());
    }

    @Test
    void blankImageSlotGradientsMatchFiniteDifferences() {
        Episode e = episode(13);
        CogVlmNet net = net(9);
        net.setVisualExperts(false);
        checkGradients(net, Episode.blank(e.branches()));
    }

    @Test
    void aBlankStartLeavesTheLanguageModelsPredictionsUntouched() {
        // Zero adapter output, boi and eoi: a real image then computes exactly what blank slots compute.
        CogVlmNet net = net(14);
        net.reinitializeVision(3);
        net.initVisualExpertsFromLanguage();
        Episode e = episode(15);
        float[] withImage = net.logits(e);
        net.setVisualExperts(false);
        float[] blank = net.logits(Episode.blank(e.branches()));
        // Equal up to float rounding: routing splits the rows into two products where blank slots use one.
        org.junit.jupiter.api.Assertions.assertArrayEquals(blank, withImage, 1e-5f);
    }

    @Test
    void imageAttentionIsTheShareOfTextAttentionOnTheImageSlots() {
        CogVlmNet net = net(16);
        Episode e = episode(17);
        double[] share = net.imageAttention(e);
        assertEquals(2, share.length);
        for (double a : share) {
            assertTrue(a > 0 && a < 1, "a probability share, got " + a);
        }
        // Text only: there are no image slots to attend to.
        Episode text = Episode.blank(e.branches());
        assertTrue(net.imageAttention(text)[0] > 0, "blank slots are attended");
    }

    @Test
    void frozenParametersGetNoGradientBuffer() {
        CogVlmNet net = net(8);
        for (Param p : net.params()) {
            net.configure(p.name(), CogVlmNet.isLanguage(p.name()), 1f);
        }
        Grads g = new Grads(net);
        net.forwardBackward(episode(12), g, 1f);
        assertEquals(null, g.of("lm_head.weight"));
        assertTrue(g.of("model.layers.0.self_attn.vision_expert_query_key_value.weight") != null);
    }

    @Test
    void forwardMatchesTheInferenceEngineOnTheExportedCheckpoint(@TempDir Path dir) throws Exception {
        CogVlmNet net = net(21);
        // Round the weights to BF16 so the exported checkpoint holds exactly what the trainer computes with.
        for (Param p : net.params()) {
            float[] v = p.value();
            for (int i = 0; i < v.length; i++) {
                v[i] = Float.intBitsToFloat(Quantizer.toBf16(v[i]) << 16);
            }
        }
        Path tok = dir.resolve("tok");
        Files.createDirectories(tok);
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.writeString(tok.resolve(f), "{}");
        }
        Path model = dir.resolve("model");
        Trainer.export(net, configJson(), tok, model);
        var scene = ShapesWorld.scene(new SplittableRandom(4));
        try (CogVlmModel engine = CogVlmModel.load(model)) {
            PreparedImage img = engine.prepare(ShapesWorld.render(scene));
            int[] ids = {5, 9, 7, 11, 30};
            int[] targets = {-1, 9, 9, 9, 9};
            Episode e = new Episode(img.pixelValues(), List.of(new Episode.Branch(ids, targets)));
            float[] mine = net.logits(e);
            ModelInput in = ModelInput.of(engine.config(), ids, engine.config().imageTokens());
            float[] theirs = engine.newSession().prefill(in, engine.encode(img), true);
            int n = in.length();
            double worst = 0;
            for (int t = 0; t < 4; t++) {
                int row = n - 4 + t;
                for (int j = 0; j < VOCAB; j++) {
                    worst = Math.max(worst, Math.abs(mine[t * VOCAB + j] - theirs[row * VOCAB + j]));
                }
            }
            assertTrue(worst < 2e-4, "trainer and engine logits differ by " + worst);
        }
    }
}
