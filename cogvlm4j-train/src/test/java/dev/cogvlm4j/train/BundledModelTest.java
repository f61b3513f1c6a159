package dev.cogvlm4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
            // captions and boxes; the README gives the full 200-scene figures (100%, 99.7%, 99.8%, 83.5% and 12%).
            // Colour from images sat at the rate of naming a random object's colour (about 60%) in most runs until
            // recipe v15's lookup stage.
            assertTrue(r.accuracy("colour") >= 0.9, "colour accuracy " + r.accuracy("colour"));
            assertTrue(r.accuracy("shape") >= 0.9, "shape accuracy " + r.accuracy("shape"));
            assertTrue(r.accuracy("count") >= 0.9, "count accuracy " + r.accuracy("count"));
            assertTrue(r.accuracy("caption") >= 0.65, "caption accuracy " + r.accuracy("caption"));
            assertTrue(r.accuracy("grounding") >= 0.05, "grounding accuracy " + r.accuracy("grounding"));
        }
    }

    @Test
    void scenesInWordsAskTheSameQuestionsAsImages() {
        try (CogVlm m = CogVlm.load(MODEL)) {
            Evaluator.Report images = Evaluator.evaluate(m, 99, 6, Evaluator.ScenesAs.IMAGES, null);
            Evaluator.Report words = Evaluator.evaluate(m, 99, 6, Evaluator.ScenesAs.CAPTION, null);
            assertEquals(images.asked(), words.asked());
            // Its language model reads: given the scene in words it copies the caption (68% over 200 scenes, and the
            // caption with boxes 82.5%).
            assertTrue(words.accuracy("caption") >= 0.5 && words.accuracy("count") >= 0.9,
                    "in words: caption " + words.accuracy("caption") + ", count " + words.accuracy("count"));
            // The wrong answers quote the question only, never the scene text the model was given.
            words.failures().forEach(f -> assertFalse(f.substring(0, f.indexOf(" -> ")).contains("[["), f));
        }
    }
}
