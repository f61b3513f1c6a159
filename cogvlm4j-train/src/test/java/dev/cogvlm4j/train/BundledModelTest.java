package dev.cogvlm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.io.SafeTensorsFile;
import dev.cogvlm4j.tensor.DType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;

/** The shipped model: the layout the issue asks for, and answers that are measurably better than chance. */
class BundledModelTest {
    private static final Path MODEL = Paths.get("").toAbsolutePath().getParent().resolve("models/cogvlm-shapes");

    @Test
    void isASmallBf16CogVlmCheckpointWithATokenizerJson() throws Exception {
        long bytes;
        try (var files = Files.list(MODEL)) {
            bytes = files.mapToLong(f -> f.toFile().length()).sum();
        }
        assertTrue(bytes <= 25L << 20, "the bundled model must stay within 25 MB, is " + bytes);
        assertTrue(Files.isRegularFile(MODEL.resolve("tokenizer.json")));
        try (SafeTensorsFile f = SafeTensorsFile.open(MODEL.resolve("model.safetensors"))) {
            assertTrue(f.entries().containsKey("model.layers.0.self_attn.vision_expert_query_key_value.weight"));
            assertTrue(f.entries().containsKey("model.vision.linear_proj.dense_4h_to_h.weight"));
            f.entries().values().forEach(e -> assertEquals(DType.BF16, e.dtype(), e.name()));
            assertTrue(f.entries().keySet().stream().noneMatch(n -> n.startsWith("train.")),
                    "training-only tensors (the tower's patch head) are never exported");
        }
    }

    @Test
    void describesAndAnswersCountColourAndShapeQuestionsWellAboveChance() {
        try (CogVlm m = CogVlm.load(MODEL)) {
            Evaluator.Report r = Evaluator.evaluate(m, 4242, 30, null);
            // Chance is about 17% for colours, 33% for shapes and under 40% for counts, and near zero for exact
            // captions and boxes; the README gives the full 200-scene figures (99.6%, 99.2%, 98.6%, 86.5% and 90.3%).
            // Until recipe v21 grounding stayed between 10% and 18%, and v21 reached 63.4%.
            assertTrue(r.accuracy("colour") >= 0.9, "colour accuracy " + r.accuracy("colour"));
            assertTrue(r.accuracy("shape") >= 0.9, "shape accuracy " + r.accuracy("shape"));
            assertTrue(r.accuracy("count") >= 0.9, "count accuracy " + r.accuracy("count"));
            assertTrue(r.accuracy("caption") >= 0.8, "caption accuracy " + r.accuracy("caption"));
            assertTrue(r.accuracy("grounding") >= 0.8, "grounding accuracy " + r.accuracy("grounding"));
        }
    }

    @Test
    void itsLanguageModelReadsScenesWrittenIntoTheImageSlots() throws Exception {
        try (CogVlm m = CogVlm.load(MODEL)) {
            Evaluator.Report images = Evaluator.evaluate(m, 99, 6, Evaluator.ScenesAs.IMAGES, null);
            Evaluator.Report slots = Evaluator.evaluateSlots(MODEL, 99, 6, null);
            assertEquals(images.asked(), slots.asked());
            // Its frozen language model was pretrained to read a scene from the image slots (the slots stages, from
            // recipe v21): given the slot rows instead of the image it describes and counts every scene of the
            // README's 200 (captions, count and colour 100%) and, with one token per object (from v22), grounds
            // 99.3% of the boxes.
            assertTrue(slots.accuracy("caption") >= 0.9 && slots.accuracy("count") >= 0.9 && slots.accuracy("colour") >= 0.9
                            && slots.accuracy("grounding") >= 0.9,
                    "from the slots: caption " + slots.accuracy("caption") + ", count " + slots.accuracy("count")
                            + ", colour " + slots.accuracy("colour") + ", grounding " + slots.accuracy("grounding"));
        }
    }
}
