package dev.cogvlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training-side commands: train, evaluate and world, with their bad inputs. */
class TrainCliTest {
    private static final String RECIPE = """
            {"seed": 3, "tokenizer": {"scenes": 100, "merges": 40},
             "model": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                         "num_heads": 2, "image_size": 112, "patch_size": 28}},
             "stages": [
               {"name": "lm", "types": ["text"], "steps": 3, "batch": 2, "questions": 2},
               {"name": "vision", "types": ["caption", "grounding"], "steps": 3, "batch": 2, "questions": 2}
             ]}""";

    @TempDir
    Path tmp;

    @Test
    void trainsEvaluatesAndInstallsATinyRecipe() throws Exception {
        Path recipe = tmp.resolve("tiny.json");
        Files.writeString(recipe, RECIPE);
        Path run = tmp.resolve("run");
        Path installed = tmp.resolve("installed");
        CliTest.Result r = CliTest.run("train", "--config", recipe.toString(), "--out", run.toString(), "--install",
                installed.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.isRegularFile(run.resolve("loss.png")));
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            assertTrue(Files.isRegularFile(installed.resolve(f)), f);
        }
        // Running again finds every stage done.
        CliTest.Result again = CliTest.run("train", "--config", recipe.toString(), "--out", run.toString());
        assertEquals(0, again.code());
        assertTrue(again.err().contains("already trained"), again.err());
        CliTest.Result ev = CliTest.run("evaluate", "--model", installed.toString(), "--images", "2", "--json",
                "--text-identical-to", run.resolve("lm/model").toString());
        assertEquals(0, ev.code(), ev.err());
        JsonNode j = new ObjectMapper().readTree(ev.out());
        assertEquals(2, j.get("images").asInt());
        assertEquals(100, j.get("text_only_identical").asInt(), "the frozen language model answers text alike");
        assertTrue(j.get("accuracy").has("grounding"));
        assertEquals("images", j.get("scenes_as").asText());
        // The same questions split by the number of shapes in their scene add up to the totals.
        j.get("asked").fields().forEachRemaining(e -> {
            int asked = 0;
            int right = 0;
            for (JsonNode cell : j.get("by_shapes").get(e.getKey())) {
                asked += cell.get("asked").asInt();
                right += cell.get("correct").asInt();
            }
            assertEquals(e.getValue().asInt(), asked, e.getKey());
            assertEquals(j.get("accuracy").get(e.getKey()).asDouble(), (double) right / asked, 1e-12, e.getKey());
        });
        // The same scenes and questions, given in words: as captions (the default form) or as listings.
        for (String[] form : new String[][]{{"--in-words", "text"}, {"--in-words=listing", "listing"}}) {
            CliTest.Result words = CliTest.run("evaluate", "--model", run.resolve("lm/model").toString(), "--images", "2",
                    "--json", form[0]);
            assertEquals(0, words.code(), words.err());
            JsonNode w = new ObjectMapper().readTree(words.out());
            assertEquals(form[1], w.get("scenes_as").asText());
            assertEquals(j.get("asked"), w.get("asked"), form[0]);
        }
        // Scenes written into the image slots need a decoder wide enough for their code; this one is not.
        CliTest.assertCleanError(CliTest.run("evaluate", "--model", run.resolve("lm/model").toString(), "--images", "1",
                "--in-words=slots"), "too narrow");
        // A single-file model loads for images, but the slot reading test runs the trainer's net from a folder.
        Path gguf = tmp.resolve("installed.gguf");
        assertEquals(0, CliTest.run("quantize", "--model", installed.toString(), "--out", gguf.toString(), "--type", "q8_0")
                .code());
        CliTest.assertCleanError(CliTest.run("evaluate", "--model", gguf.toString(), "--images", "1", "--in-words=slots"),
                "model folder");
        CliTest.Result run1 = CliTest.run("run", "--model", installed.toString(), "--image",
                writeScene().toString(), "--prompt", "Describe the image.", "--max-new-tokens", "8");
        assertEquals(0, run1.code(), run1.err());
    }

    private Path writeScene() {
        Path dir = tmp.resolve("world");
        CliTest.Result r = CliTest.run("world", "--seed", "5", "--count", "2", "--out", dir.toString());
        assertEquals(0, r.code(), r.err());
        return dir.resolve("scene-1.png");
    }

    @Test
    void worldWritesImagesWithTheirQuestions() throws Exception {
        Path img = writeScene();
        assertTrue(Files.size(img) > 100);
        List<String> lines = Files.readAllLines(img.resolveSibling("questions.jsonl"));
        assertTrue(lines.size() >= 2 * 6, "every scene has at least caption, boxes and four counts");
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        assertEquals("scene-1.png", first.get("image").asText());
        assertEquals("Describe the image.", first.get("question").asText());
    }

    @Test
    void badTrainingInputsGiveOneLineErrors() throws Exception {
        CliTest.assertCleanError(CliTest.run("train", "--config", tmp.resolve("none.json").toString()), "no such recipe");
        Path broken = tmp.resolve("broken.json");
        Files.writeString(broken, "{\"seed\": ");
        CliTest.assertCleanError(CliTest.run("train", "--config", broken.toString()), "not valid JSON");
        Path recipe = tmp.resolve("tiny.json");
        Files.writeString(recipe, RECIPE);
        CliTest.assertCleanError(CliTest.run("train", "--config", recipe.toString(), "--stage", "poetry"), "no stage \"poetry\"");
        CliTest.assertCleanError(CliTest.run("train", "--config", recipe.toString(), "--fusion", "medium"), "--fusion");
        CliTest.assertCleanError(CliTest.run("train", "--config", recipe.toString(), "--stage", "vision", "--out",
                tmp.resolve("r").toString()), "has not finished");
        CliTest.assertCleanError(CliTest.run("evaluate", "--model", tmp.resolve("nothing").toString()), "no such model");
        Path model = CliTest.fixtureModel();
        CliTest.assertCleanError(CliTest.run("evaluate", "--model", model.toString(), "--images", "0"), "--images");
        CliTest.assertCleanError(CliTest.run("evaluate", "--model", model.toString(), "--images", "1",
                "--text-identical-to", tmp.resolve("gone").toString()), "no such model folder");
        CliTest.assertCleanError(CliTest.run("evaluate", "--model", model.toString(), "--in-words=maybe"), "--in-words");
        Path badDims = tmp.resolve("bad-dims.json");
        Files.writeString(badDims, RECIPE.replace("\"num_attention_heads\": 2", "\"num_attention_heads\": 3"));
        CliTest.assertCleanError(CliTest.run("train", "--config", badDims.toString(), "--out", tmp.resolve("b").toString()),
                "not divisible");
        CliTest.assertCleanError(CliTest.run("world", "--out", tmp.toString(), "--count", "0"), "--count");
        CliTest.assertCleanError(CliTest.run("world", "--out", tmp.toString(), "--prefix", "../x"), "--prefix");
    }
}
