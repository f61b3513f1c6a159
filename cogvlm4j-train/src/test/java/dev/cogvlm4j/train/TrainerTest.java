package dev.cogvlm4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.io.SafeTensorsFile;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.text.Tokenizers;
import dev.cogvlm4j.train.data.EpisodeFactory;
import dev.cogvlm4j.train.data.SceneSlots;
import dev.cogvlm4j.train.model.Episode;
import dev.cogvlm4j.train.world.ShapesWorld;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The recipe runner: exact resumption, stage order and freezing, the exported checkpoint, recipe validation. */
class TrainerTest {
    static final String RECIPE = """
            {"seed": 3, "fusion": "%s", "tokenizer": {"scenes": 200, "merges": 60},
             "model": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                         "num_heads": 2, "image_size": 112, "patch_size": 28}},
             "stages": [
               {"name": "lm", "types": ["text"], "steps": 6, "batch": 2, "questions": 2, "lr": 3e-3, "warmup": 2,
                "checkpoint_every": 3},
               {"name": "caption", "types": ["caption", "count"], "steps": 6, "batch": 2, "questions": 2, "lr": 2e-3,
                "warmup": 2, "checkpoint_every": 3, "tower_lr": 0.1}
             ]}""";

    static Recipe recipe(String fusion) {
        try {
            return Recipe.parse(new ObjectMapper().readTree(RECIPE.formatted(fusion)), "test");
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    private static final Trainer.Listener QUIET = r -> {
    };

    /** The test recipe's tokenizer (learned into {@code dir}) and an episode factory over it. */
    private record Data(Tokenizer tokenizer, EpisodeFactory factory) {
    }

    private static Data data(Path dir) throws java.io.IOException {
        Trainer t = new Trainer(recipe("deep"), dir, QUIET);
        Tokenizer tok = Tokenizers.load(t.tokenizerDir());
        return new Data(tok, new EpisodeFactory(tok, dev.cogvlm4j.model.CogVlmConfig.parse(t.modelConfig(tok), Set.of())));
    }

    @Test
    void aKilledRunResumesExactly(@TempDir Path dir) throws Exception {
        Path straight = dir.resolve("straight");
        Path killed = dir.resolve("killed");
        Trainer a = new Trainer(recipe("deep"), straight, QUIET);
        a.runStage("lm", -1);
        List<Double> full = a.runStage("caption", -1);
        Trainer b = new Trainer(recipe("deep"), killed, QUIET);
        b.runStage("lm", -1);
        // Killed after step 4: the last checkpoint holds step 3, so step 4 is done again on resumption.
        b.runStage("caption", 4);
        List<Double> resumed = new Trainer(recipe("deep"), killed, QUIET).runStage("caption", -1);
        assertEquals(full, resumed, "the resumed loss curve must equal the uninterrupted one");
        try (SafeTensorsFile x = SafeTensorsFile.open(straight.resolve("caption/state.safetensors"));
             SafeTensorsFile y = SafeTensorsFile.open(killed.resolve("caption/state.safetensors"))) {
            for (String n : x.entries().keySet()) {
                assertArrayEquals(x.floats(n), y.floats(n), n);
            }
        }
        assertTrue(Files.isRegularFile(straight.resolve("caption/loss.png")));
        assertEquals(7, Files.readAllLines(straight.resolve("caption/loss.csv")).size());
    }

    @Test
    void visionStagesLeaveTheLanguageModelBitIdentical(@TempDir Path dir) throws Exception {
        Trainer t = new Trainer(recipe("deep"), dir, QUIET);
        t.runAll();
        try (SafeTensorsFile lm = SafeTensorsFile.open(dir.resolve("lm/model/model.safetensors"));
             SafeTensorsFile vl = SafeTensorsFile.open(dir.resolve("caption/model/model.safetensors"))) {
            int language = 0;
            int changed = 0;
            for (String n : lm.entries().keySet()) {
                boolean isLanguage = dev.cogvlm4j.train.model.CogVlmNet.isLanguage(n);
                boolean same = java.util.Arrays.equals(lm.floats(n), vl.floats(n));
                if (isLanguage) {
                    language++;
                    assertTrue(same, n + " is part of the frozen language model but changed");
                } else if (!same) {
                    changed++;
                }
            }
            assertTrue(language > 10);
            assertTrue(changed > 10, "the vision side must have learned");
        }
        // The exported model loads in the engine, answers, and gives identical text-only logits.
        try (CogVlm a = CogVlm.load(dir.resolve("lm/model")); CogVlm b = CogVlm.load(dir.resolve("caption/model"))) {
            assertEquals(20, Evaluator.identicalTextLogits(a, b, 5, 20));
            Evaluator.Report r = Evaluator.evaluate(b, 99, 2, null);
            assertTrue(r.asked().get("caption") == 2);
        }
    }

    @Test
    void shallowAlignmentTrainsOnlyTowerAndAdapterAndExportsLanguageCopies(@TempDir Path dir) throws Exception {
        new Trainer(recipe("shallow"), dir, QUIET).runAll();
        try (SafeTensorsFile f = SafeTensorsFile.open(dir.resolve("caption/model/model.safetensors"))) {
            assertArrayEquals(f.floats("model.layers.1.mlp.language_mlp.up_proj.weight"),
                    f.floats("model.layers.1.mlp.vision_mlp.up_proj.weight"));
            assertArrayEquals(f.floats("model.layers.0.self_attn.language_expert_query_key_value.weight"),
                    f.floats("model.layers.0.self_attn.vision_expert_query_key_value.weight"));
        }
    }

    @Test
    void thePatchStageTrainsOnlyTheTowerAndNeverExportsItsHead(@TempDir Path dir) throws Exception {
        String withPatches = RECIPE.formatted("deep").replace("""
                   {"name": "caption",""", """
                   {"name": "patches", "types": ["patches"], "steps": 4, "batch": 2, "questions": 1, "lr": 2e-3,
                    "warmup": 1, "checkpoint_every": 2, "places": true},
                   {"name": "caption",""");
        Recipe r = Recipe.parse(new ObjectMapper().readTree(withPatches), "test");
        assertEquals(List.of("lm", "patches", "caption"), r.stages().stream().map(Recipe.Stage::name).toList());
        assertTrue(r.stage("patches").places() && !r.stage("caption").places());
        List<String> messages = new java.util.ArrayList<>();
        Trainer t = new Trainer(r, dir, new Trainer.Listener() {
            @Override
            public void step(Trainer.StepReport report) {
            }

            @Override
            public void message(String m) {
                messages.add(m);
            }
        });
        t.runAll();
        compareStates(dir.resolve("lm/state.safetensors"), dir.resolve("patches/state.safetensors"), (n, same) -> {
            if (dev.cogvlm4j.train.model.CogVlmNet.isTower(n) || n.startsWith("train.")) {
                assertTrue(!same || n.endsWith("bias") || n.contains("norm"), n + " should have learned");
            } else if (!n.startsWith("model.vision.")) {
                // Adapter, boi and eoi are redrawn when vision starts; everything outside the vision side stays.
                assertTrue(same, n + " must not change in the tower's pretraining");
            }
        });
        // The visual experts start from the language weights when images first reach the decoder, after the
        // tower's pretraining; the head exists only in training states.
        assertTrue(messages.stream().anyMatch(m -> m.startsWith("caption: visual experts initialised")), messages.toString());
        try (SafeTensorsFile model = SafeTensorsFile.open(dir.resolve("caption/model/model.safetensors"))) {
            assertTrue(model.entries().keySet().stream().noneMatch(n -> n.startsWith("train.")));
        }
        try (CogVlm m = CogVlm.load(dir.resolve("caption/model"))) {
            assertEquals(2, Evaluator.evaluate(m, 5, 2, null).asked().get("caption"));
        }
    }

    /**
     * A red square exactly on cell (1, 1) of a 4x4 grid of 56-pixel cells, and a blue one straddling four cells: 9.2%
     * of cell (2, 2), 6.9% of (1, 2), less of the others.
     */
    private static ShapesWorld.Scene twoSquares() {
        var square = dev.cogvlm4j.train.world.Shape.Kind.SQUARE;
        return new ShapesWorld.Scene(new int[]{255, 255, 255}, List.of(
                new dev.cogvlm4j.train.world.Shape(square, dev.cogvlm4j.train.world.Shape.Colour.RED,
                        new int[]{220, 40, 40}, 56, 56, 112, 112),
                new dev.cogvlm4j.train.world.Shape(square, dev.cogvlm4j.train.world.Shape.Colour.BLUE,
                        new int[]{40, 80, 220}, 100, 150, 128, 178)));
    }

    /** Calls {@code check} with each weight tensor of two training states (AdamW's moments left out) and whether it is unchanged. */
    private static void compareStates(Path a, Path b, java.util.function.BiConsumer<String, Boolean> check) throws java.io.IOException {
        try (SafeTensorsFile before = SafeTensorsFile.open(a); SafeTensorsFile after = SafeTensorsFile.open(b)) {
            for (String n : after.entries().keySet()) {
                if (!n.startsWith("adam.")) {
                    check.accept(n, java.util.Arrays.equals(before.floats(n), after.floats(n)));
                }
            }
        }
    }

    @Test
    void patchLabelsNameTheObjectCoveringMostOfEachPatch(@TempDir Path dir) throws Exception {
        // The test recipe's tower sees 112 px in 28 px patches: a 4x4 grid whose cells are 56 world pixels.
        EpisodeFactory f = data(dir).factory();
        var red = dev.cogvlm4j.train.world.Shape.Colour.RED;
        var blue = dev.cogvlm4j.train.world.Shape.Colour.BLUE;
        var square = dev.cogvlm4j.train.world.Shape.Kind.SQUARE;
        ShapesWorld.Scene scene = twoSquares();
        Episode.PatchTargets p = f.patches(scene).patches();
        int none = Episode.PatchTargets.KINDS - 1;
        for (int i = 0; i < 16; i++) {
            int expected = i == 5 || i == 10 ? square.ordinal() : none;
            assertEquals(expected, p.kind()[i], "cell " + i);
        }
        assertEquals(red.ordinal(), p.colour()[5]);
        assertEquals(blue.ordinal(), p.colour()[10]);
        assertEquals(Episode.PatchTargets.COLOURS - 1, p.colour()[9]);
        assertArrayEquals(new float[]{0.25f, 0.25f, 0.5f, 0.5f}, java.util.Arrays.copyOfRange(p.box(), 20, 24));
        assertArrayEquals(new float[]{100 / 224f, 150 / 224f, 128 / 224f, 178 / 224f},
                java.util.Arrays.copyOfRange(p.box(), 40, 44));
        assertFalse(p.places(), "places only when the stage asks for them");
        Episode.PatchTargets withPlaces = f.patches(scene, true).patches();
        assertTrue(withPlaces.places());
        assertArrayEquals(p.box(), withPlaces.box());
        // The first two digits of the answer's [[111,250,178,500]] (red) and [[446,669,571,794]] (blue).
        int[] places = java.util.stream.IntStream.of(20, 21, 22, 23, 40, 41, 42, 43).map(withPlaces::place).toArray();
        assertArrayEquals(new int[]{25, 25, 50, 50, 44, 66, 57, 79}, places);
    }

    @Test
    void aPlaceIsTheFirstTwoDigitsOfTheAnswersCoordinate() {
        // Every pixel coordinate a box can have (0 to 224), stored as the patch targets store it (pixel / side).
        for (int x = 0; x <= 224; x++) {
            float[] box = {x / 224f, 0, 0, 0};
            Episode.PatchTargets t = new Episode.PatchTargets(new int[]{0}, new int[]{0}, box, true);
            assertEquals(Math.min(999, x * 1000 / 224) / 10, t.place(0), "pixel " + x);
        }
    }

    @Test
    void aStageNeedsItsPredecessor(@TempDir Path dir) {
        Trainer t = new Trainer(recipe("deep"), dir, QUIET);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.runStage("caption", -1));
        assertTrue(e.getMessage().contains("stage lm"), e.getMessage());
    }

    @Test
    void badRecipesAreRejectedWithOneLine() {
        ObjectMapper m = new ObjectMapper();
        for (String bad : List.of("[]", "{\"model\": {}}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": []}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"poems\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 0, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"patches\", \"count\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\", \"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"experts_lr\": -1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"tower_lr\": \"fast\"}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"lr\": 1e308}]}",
                "{\"fusion\": \"medium\", \"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"tokenizer\": {\"split_punctuation\": \"yes\"}, \"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"tokenizer\": {\"phrases\": 1}, \"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"threads\": -2, \"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"threads\": \"two\", \"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"threads\": 1.5, \"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"weights\": {\"poems\": 2}}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"weights\": {\"colour\": 0}}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"weights\": {\"colour\": \"more\"}}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"weights\": [\"colour\"]}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"listing\": 1.5}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"listing\": \"half\"}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"loss\": \"sentence\"}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"loss\": 1}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"patches\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"places\": \"yes\"}]}",
                "{\"model\": {\"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"places\": true}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"slots\", \"text\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"slots\", \"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"hidden_size\": 64, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"slots\"], \"steps\": 1, \"batch\": 1, \"questions\": 1}]}",
                "{\"model\": {\"hidden_size\": 64, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"patches\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"align\": true}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"caption\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"align\": true}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"patches\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"align\": 1}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"reading\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"noise\": 0.1}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"slots\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"noise\": -0.1}]}",
                "{\"model\": {\"hidden_size\": 128, \"vision_config\": {}}, \"stages\": [{\"name\": \"x\", \"types\": [\"slots\"], \"steps\": 1, \"batch\": 1, \"questions\": 1, \"noise\": \"some\"}]}")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Recipe.parse(m.readTree(bad), "r.json"), bad);
            assertTrue(e.getMessage().startsWith("r.json:") && !e.getMessage().contains("\n"), e.getMessage());
        }
    }

    @Test
    void episodesTargetOnlyTheAnswerAndEndOfSequence(@TempDir Path dir) throws Exception {
        Data d = data(dir);
        Tokenizer tok = d.tokenizer();
        EpisodeFactory f = d.factory();
        Episode.Branch b = f.qa("How many shapes are there?", "3");
        int answerStart = tok.encode("Question: How many shapes are there? Answer:").length;
        // " 3" is "▁" then "3": digits never merge, as in Llama's tokenizer.
        assertEquals(answerStart + 2, b.ids().length);
        assertEquals(3, b.targetCount(), "the two answer tokens and </s>");
        assertEquals(-1, b.targets()[answerStart - 2], "the question has no targets");
        assertEquals(b.ids()[answerStart], b.targets()[answerStart - 1]);
        assertEquals(b.ids()[answerStart + 1], b.targets()[answerStart]);
        assertEquals(2, b.targets()[answerStart + 1]);
        assertEquals("3", tok.decode(new int[]{b.ids()[answerStart + 1]}, 1, true, false));
        // Digits stay single tokens, as in Llama's tokenizer, so a box is 4 x 3 digit tokens.
        int[] box = tok.encode("[[045,120,310,388]]");
        long digits = java.util.Arrays.stream(box).mapToObj(id -> tok.decode(new int[]{id}, 1, true, false).strip())
                .filter(s -> s.matches("\\d")).count();
        assertEquals(12, digits);
        Episode e = f.image(ShapesWorld.scene(new SplittableRandom(1)), Set.of("count"), 3, new SplittableRandom(2));
        assertEquals(3 * 112 * 112, e.pixels().length);
        assertEquals(3, e.branches().size());
        assertNotEquals(null, e);
    }

    /** With split_punctuation a word is one token wherever it stands: before "?", ",", "." or a box. */
    @Test
    void aTokenizerThatSplitsPunctuationKeepsEachWordOneToken(@TempDir Path dir) throws Exception {
        Recipe split = Recipe.parse(new ObjectMapper().readTree(RECIPE.formatted("deep")
                .replace("\"merges\": 60}", "\"merges\": 60, \"split_punctuation\": true}")), "test");
        assertTrue(split.tokenizerSplitsPunctuation());
        assertTrue(!recipe("deep").tokenizerSplitsPunctuation(), "off unless asked");
        Tokenizer tok = Tokenizers.load(new Trainer(split, dir.resolve("split"), QUIET).tokenizerDir());
        int[] circle = tok.encode("circle");
        for (String text : new String[]{"circle?", "circle,", "circle.", "circle [[045,120,310,388]]"}) {
            int[] ids = tok.encode(text);
            assertTrue(ids.length > circle.length && java.util.Arrays.equals(circle,
                    java.util.Arrays.copyOf(ids, circle.length)), text + " starts with the word's own tokens");
        }
        assertEquals(0, mixedPieces(new Trainer(split, dir.resolve("split"), QUIET).tokenizerDir()));
        // Without the option, the same text budget learns pieces such as "Question:" or "circle?".
        assertTrue(mixedPieces(new Trainer(recipe("deep"), dir.resolve("plain"), QUIET).tokenizerDir()) > 0);
    }

    /**
     * With phrases each colour-and-shape pair is one token wherever it stands, in questions and captions alike, and
     * decodes back to its two words; the words alone keep their own tokens; too small a merge budget to make each
     * word one piece first is refused with one line.
     */
    @Test
    void phraseTokensNameAnObjectWithOneToken(@TempDir Path dir) throws Exception {
        String phrases = RECIPE.formatted("deep").replace("\"scenes\": 200, \"merges\": 60}",
                "\"scenes\": 200, \"merges\": 160, \"split_punctuation\": true, \"phrases\": true}");
        Recipe r = Recipe.parse(new ObjectMapper().readTree(phrases), "test");
        assertTrue(r.tokenizerPhrases() && !recipe("deep").tokenizerPhrases(), "off unless asked");
        Tokenizer tok = Tokenizers.load(new Trainer(r, dir.resolve("phrases"), QUIET).tokenizerDir());
        Tokenizer plain = Tokenizers.load(new Trainer(Recipe.parse(new ObjectMapper().readTree(
                phrases.replace("\"phrases\": true", "\"phrases\": false")), "test"), dir.resolve("plain"), QUIET)
                .tokenizerDir());
        int[] green = tok.encode("green");
        int[] triangle = tok.encode("triangle");
        assertEquals(1, green.length);
        assertEquals(1, triangle.length);
        for (String text : new String[]{"Where is the green triangle?", "A red circle and a green triangle.",
                "A green triangle [[045,120,310,388]]."}) {
            int[] ids = tok.encode(text);
            int[] words = plain.encode(text);
            assertEquals(words.length - (text.contains("red circle") ? 2 : 1), ids.length, text);
            assertEquals(text, tok.decode(ids, ids.length, true, false), text);
            long pairs = java.util.Arrays.stream(ids).filter(id -> tok.decode(new int[]{id}, 1, true, false).strip()
                    .matches("(red|green|blue|yellow|purple|orange) (circle|square|triangle)")).count();
            assertEquals(text.contains("red circle") ? 2 : 1, pairs, text);
        }
        int[] colourAnswer = tok.encode("What color is the triangle? Answer: green");
        assertEquals(green[0], colourAnswer[colourAnswer.length - 1], "a colour alone keeps its own token");
        assertTrue(java.util.Arrays.stream(tok.encode("What shape is the green object?")).anyMatch(id -> id == green[0]));

        Recipe tooFew = Recipe.parse(new ObjectMapper().readTree(phrases.replace("\"merges\": 160", "\"merges\": 5")), "test");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new Trainer(tooFew, dir.resolve("few"), QUIET).tokenizerDir());
        assertTrue(e.getMessage().contains("allow more merges") && !e.getMessage().contains("\n"), e.getMessage());
    }

    /** Learned pieces holding both a letter and punctuation. */
    private static long mixedPieces(Path tokenizerDir) throws java.io.IOException {
        var vocab = new ObjectMapper().readTree(tokenizerDir.resolve("tokenizer.json").toFile()).path("model").path("vocab");
        long n = 0;
        for (var it = vocab.fieldNames(); it.hasNext(); ) {
            String piece = it.next();
            n += !piece.startsWith("<") && piece.chars().anyMatch(Character::isLetter)
                    && piece.chars().anyMatch(c -> ",.?:[]".indexOf(c) >= 0) ? 1 : 0;
        }
        return n;
    }

    @Test
    void readingExercisesTargetOnlyTheAnswerAfterTheSceneInWords(@TempDir Path dir) throws Exception {
        Data d = data(dir);
        Tokenizer tok = d.tokenizer();
        Episode e = d.factory().reading(new SplittableRandom(4), 5);
        assertEquals(5, e.branches().size());
        assertTrue(!e.hasImageSlots(), "text only");
        for (Episode.Branch b : e.branches()) {
            String text = tok.decode(b.ids(), b.ids().length, true, false);
            assertTrue(text.matches("An? .*") && text.contains("[[") && text.contains(" Question: ")
                    && text.contains(" Answer: "), text);
            // Targets start at the last prompt token ("Answer:") and end with </s>; nothing before has one.
            int answer = tok.encode(text.substring(0, text.lastIndexOf(" Answer:") + 8)).length;
            for (int i = 0; i < b.ids().length; i++) {
                assertEquals(i >= answer - 1, b.targets()[i] >= 0, text + " @" + i);
            }
            assertEquals(2, b.targets()[b.ids().length - 1]);
        }
        // A stage may mix plain text and reading exercises; it trains like any language stage.
        Recipe mixed = Recipe.parse(new ObjectMapper().readTree(RECIPE.formatted("deep")
                .replace("\"types\": [\"text\"]", "\"types\": [\"text\", \"reading\"]")), "test");
        assertTrue(mixed.stage("lm").text());
        List<Double> losses = new Trainer(mixed, dir.resolve("mixed"), QUIET).runStage("lm", -1);
        assertEquals(6, losses.size());
        assertTrue(losses.stream().allMatch(l -> Double.isFinite(l) && l > 0), losses.toString());
    }

    /**
     * Question weights draw each type in proportion (here colour questions about four times as often as uniform
     * drawing gives them), a listing share writes that share of scenes as listings, and a stage with neither draws
     * exactly the episodes it drew before the options existed.
     */
    @Test
    void readingExercisesFollowTheStagesWeightsAndListingShare(@TempDir Path dir) throws Exception {
        Data d = data(dir);
        Tokenizer tok = d.tokenizer();
        EpisodeFactory f = d.factory();
        int n = 400;
        Episode plain = f.reading(new SplittableRandom(8), n);
        Episode same = f.reading(new SplittableRandom(8), n, java.util.Map.of(), 0);
        for (int i = 0; i < n; i++) {
            assertArrayEquals(plain.branches().get(i).ids(), same.branches().get(i).ids(), "no options: the old draws");
        }
        Episode weighted = f.reading(new SplittableRandom(8), n, java.util.Map.of("colour", 8.0), 0.5);
        int colourPlain = 0;
        int colourWeighted = 0;
        int listings = 0;
        for (int i = 0; i < n; i++) {
            colourPlain += text(tok, plain.branches().get(i)).contains("What color") ? 1 : 0;
            String text = text(tok, weighted.branches().get(i));
            colourWeighted += text.contains("What color") ? 1 : 0;
            boolean listing = text.matches("(circle|square|triangle) (red|green|blue|yellow|purple|orange) \\[\\[.*");
            assertTrue(listing || text.matches("An? .*"), text);
            listings += listing ? 1 : 0;
        }
        assertTrue(colourPlain > 10 && colourWeighted > 3 * colourPlain, colourPlain + " against " + colourWeighted);
        assertTrue(listings > n / 2 - 60 && listings < n / 2 + 60, listings + " listings of " + n);
        // The listing keeps the caption's left-to-right order, each shape's word right before its colour's.
        ShapesWorld.Scene scene = ShapesWorld.scene(new SplittableRandom(11));
        String listing = dev.cogvlm4j.train.data.WorldText.listing(scene);
        List<dev.cogvlm4j.train.world.Shape> shapes = scene.leftToRight();
        StringBuilder expected = new StringBuilder();
        for (var s : shapes) {
            expected.append(expected.isEmpty() ? "" : ", ").append(s.kind().word()).append(' ').append(s.colour().word())
                    .append(' ').append(s.box999());
        }
        assertEquals(expected + ".", listing);
        // Weights apply to image episodes' questions too: with colour weighted far up, the first drawn is colour.
        ShapesWorld.Scene several = null;
        for (long seed = 0; several == null; seed++) {
            ShapesWorld.Scene c = ShapesWorld.scene(new SplittableRandom(seed));
            several = ShapesWorld.questions(c).stream().anyMatch(q -> q.type().equals("colour")) ? c : null;
        }
        Episode e = f.image(several, Set.of("count", "colour"), 1, java.util.Map.of("colour", 1e6), new SplittableRandom(3));
        assertTrue(text(tok, e.branches().get(0)).contains("What color"));
    }

    private static String text(Tokenizer tok, Episode.Branch b) {
        return tok.decode(b.ids(), b.ids().length, true, false);
    }

    /** A recipe whose decoder is wide enough for the scene's slot rows: slots, the tower with the adapter, captions. */
    static final String SLOTS_RECIPE = """
            {"seed": 4, "tokenizer": {"scenes": 200, "merges": 60},
             "model": {"hidden_size": 128, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "vision_config": {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                         "num_heads": 2, "image_size": 112, "patch_size": 28}},
             "stages": [
               {"name": "lm-slots", "types": ["slots"], "steps": 4, "batch": 2, "questions": 3, "lr": 3e-3, "warmup": 1,
                "weights": {"grounding": 4}, "noise": 0.05},
               {"name": "patches", "types": ["patches"], "steps": 4, "batch": 2, "questions": 1, "lr": 3e-3, "warmup": 1,
                "places": true, "align": true},
               {"name": "caption", "types": ["caption", "grounding"], "steps": 2, "batch": 2, "questions": 2, "lr": 1e-3,
                "warmup": 1}
             ]}""";

    @Test
    void sceneSlotsWriteEachPatchsObjectAsOneHots() {
        // A 4x4 grid of 56-pixel cells: the red square is exactly cell (1, 1), the blue one most of cell (2, 2).
        ShapesWorld.Scene scene = twoSquares();
        int h = 128;
        float[] rows = SceneSlots.rows(scene, 4, h);
        assertEquals(18 * h, rows.length, "boi, 16 patches, eoi");
        // Scene-wide on every patch row: two shapes (111 + 1); squares 2 (115 + 4 + 1); no circle or triangle.
        Set<Integer> scene2 = Set.of(112, 120);
        // Red [[250,250,500,500]], first left to right: red 0, square 6 + 1, red square 9 + 0 * 3 + 1, digits 2|5,
        // 2|5, 5|0, 5|0, rank 107.
        Set<Integer> redRow = new java.util.TreeSet<>(Set.of(0, 7, 10, 27 + 2, 37 + 5, 47 + 2, 57 + 5, 67 + 5, 77, 87 + 5, 97, 107));
        redRow.addAll(scene2);
        // Blue [[446,669,571,794]], second: blue 2, square 7, blue square 9 + 2 * 3 + 1, digits 4|4, 6|6, 5|7, 7|9,
        // rank 108.
        Set<Integer> blueRow = new java.util.TreeSet<>(Set.of(2, 7, 16, 27 + 4, 37 + 4, 47 + 6, 57 + 6, 67 + 5, 77 + 7, 87 + 7, 97 + 9, 108));
        blueRow.addAll(scene2);
        Set<Integer> background = new java.util.TreeSet<>(scene2);
        background.add(127);
        for (int row = 0; row < 18; row++) {
            Set<Integer> ones = new java.util.TreeSet<>();
            for (int j = 0; j < h; j++) {
                float v = rows[row * h + j];
                assertTrue(v == 0f || v == 1f, "one-hot values only");
                if (v == 1f) {
                    ones.add(j);
                }
            }
            Set<Integer> expected = row == 0 || row == 17 ? Set.of() : row == 1 + 5 ? redRow : row == 1 + 10 ? blueRow : background;
            assertEquals(expected, ones, "row " + row);
        }
        assertEquals(128, SceneSlots.WIDTH);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SceneSlots.rows(scene, 4, 64));
        assertTrue(e.getMessage().contains("at least 128"), e.getMessage());
    }

    @Test
    void slotStagesTeachTheLanguageModelAndTheAdapterTheSameRows(@TempDir Path dir) throws Exception {
        Recipe r = Recipe.parse(new ObjectMapper().readTree(SLOTS_RECIPE), "test");
        assertTrue(r.stage("lm-slots").text() && r.stage("patches").align() && !r.stage("caption").align());
        assertEquals(0.05, r.stage("lm-slots").slotNoise());
        Trainer t = new Trainer(r, dir, QUIET);
        Tokenizer tok = Tokenizers.load(t.tokenizerDir());
        EpisodeFactory f = new EpisodeFactory(tok, dev.cogvlm4j.model.CogVlmConfig.parse(t.modelConfig(tok), Set.of()));
        // A slots episode: the scene drawn first from the generator, its slot rows (here without noise) in the image
        // slots, and its questions with only the answers as targets.
        Episode e = f.slots(new SplittableRandom(5), 3, java.util.Map.of(), 0);
        ShapesWorld.Scene scene = ShapesWorld.scene(new SplittableRandom(5));
        assertArrayEquals(SceneSlots.rows(scene, 4, 128), e.slots());
        assertTrue(e.hasImageSlots() && !e.hasPixels());
        assertEquals(3, e.branches().size());
        int eos = dev.cogvlm4j.model.CogVlmConfig.parse(t.modelConfig(tok), Set.of()).eosIds()[0];
        for (Episode.Branch b : e.branches()) {
            // Targets: none on the question, then the answer's tokens and end-of-sequence.
            int n = b.ids().length;
            int first = n - b.targetCount();
            assertTrue(first > 5, text(tok, b));
            for (int i = 0; i < n; i++) {
                assertEquals(i >= first, b.targets()[i] >= 0, "position " + i + " of " + text(tok, b));
            }
            assertEquals(eos, b.targets()[n - 1]);
            int[] answer = java.util.Arrays.copyOfRange(b.targets(), first, n - 1);
            assertEquals(text(tok, b).replaceAll(".* Answer: ", ""), tok.decode(answer, answer.length, true, false).strip());
        }
        Episode noisy = f.slots(new SplittableRandom(5), 3, java.util.Map.of(), 0.05);
        double diff = 0;
        for (int i = 0; i < e.slots().length; i++) {
            diff += Math.abs(noisy.slots()[i] - e.slots()[i]);
        }
        diff /= e.slots().length;
        assertTrue(diff > 0.02 && diff < 0.06, "mean noise " + diff);
        // The tower's labels carry the same rows as targets for the adapter when the stage aligns it.
        Episode.PatchTargets p = f.patches(scene, true, true).patches();
        assertArrayEquals(SceneSlots.rows(scene, 4, 128), p.slots());
        assertEquals(null, f.patches(scene, true).patches().slots());

        t.runAll();
        compareStates(dir.resolve("lm-slots/state.safetensors"), dir.resolve("patches/state.safetensors"), (n, same) -> {
            if (dev.cogvlm4j.train.model.CogVlmNet.isAdapter(n)) {
                assertTrue(!same || n.endsWith("bias"), n + ": the adapter learns to write the slot rows");
            } else if (!n.startsWith("model.vision.") && !n.startsWith("train.")) {
                assertTrue(same, n + " must not change in the tower's pretraining");
            }
        });
        // Its reading test asks every question of the same scenes as the image test, with the scene in the slots.
        Evaluator.Report slots = Evaluator.evaluateSlots(dir.resolve("lm-slots/model"), 5, 2, null);
        try (CogVlm m = CogVlm.load(dir.resolve("caption/model"))) {
            assertEquals(Evaluator.evaluate(m, 5, 2, null).asked(), slots.asked());
        }
        // The language model the slots stage trained stays frozen through the vision stages.
        try (CogVlm a = CogVlm.load(dir.resolve("lm-slots/model")); CogVlm b = CogVlm.load(dir.resolve("caption/model"))) {
            assertEquals(10, Evaluator.identicalTextLogits(a, b, 5, 10));
        }
    }

    /** Every recipe in the repository parses, and each shallow arm runs its deep arm's stages on the same data. */
    @Test
    void shippedRecipesParseAndPairUp() throws Exception {
        Path root = Path.of("..", "recipes");
        List<Path> files;
        try (var walk = Files.walk(root)) {
            files = walk.filter(f -> f.toString().endsWith(".json")).sorted().toList();
        }
        assertTrue(files.size() >= 6, "recipes found: " + files);
        for (Path f : files) {
            Recipe r = Recipe.load(f);
            if (!f.getFileName().toString().contains("shallow")) {
                continue;
            }
            Recipe deep = Recipe.load(f.resolveSibling(f.getFileName().toString().replace("-shallow", "")));
            assertTrue(deep.deepFusion() && !r.deepFusion(), f.toString());
            assertEquals(deep.seed(), r.seed(), f.toString());
            assertEquals(deep.stages(), r.stages(), f + ": the two arms must share stages, steps and data");
            assertEquals(deep.tokenizerSplitsPunctuation(), r.tokenizerSplitsPunctuation(), f + ": and the tokenizer");
            assertEquals(deep.tokenizerMerges(), r.tokenizerMerges(), f + ": and the tokenizer");
            assertEquals(deep.tokenizerPhrases(), r.tokenizerPhrases(), f + ": and the tokenizer");
        }
    }
}
