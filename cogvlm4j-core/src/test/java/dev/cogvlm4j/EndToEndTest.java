package dev.cogvlm4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cogvlm4j.model.GenerationOptions;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.text.Turn;
import dev.cogvlm4j.vision.RgbImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The public API from a user's request (prompt, history, image file, template) to the reference's ids and text. */
class EndToEndTest {

    static Stream<String> cases() {
        return Fixtures.cases().stream();
    }

    /** Prompt text and ids from the request, for every case: real tokenizers where present, else the byte one. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void requestBecomesTheReferenceInput(String name) {
        Path dir = Fixtures.caseDir(name);
        JsonNode exp = Fixtures.expected(dir);
        boolean realTok = name.contains("realtok");
        CogVlm.Options opts = realTok ? CogVlm.Options.defaults() : CogVlm.Options.defaults().withTokenizer(Path.of("bytes"));
        try (CogVlm vlm = CogVlm.load(dir, opts)) {
            Question q = question(vlm, dir, exp);
            assertEquals(exp.get("prompt_text").asText(), vlm.promptText(q));
            ModelInput in = vlm.input(q);
            assertArrayEquals(Fixtures.ints(exp.get("input_ids")), in.inputIds(), "input_ids");
            assertArrayEquals(Fixtures.ints(exp.get("token_type_ids")), in.tokenTypeIds(), "token_type_ids");
            assertArrayEquals(Fixtures.ints(exp.get("position_ids")), in.positionIds(), "position_ids");
        }
    }

    /** The two real-tokenizer cases generate the reference's text, streamed piece by piece. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void realTokenizerCasesAnswerLikeTheDemo(String name) {
        if (!name.contains("realtok")) {
            return;
        }
        Path dir = Fixtures.caseDir(name);
        JsonNode exp = Fixtures.expected(dir);
        try (CogVlm vlm = CogVlm.load(dir)) {
            StringBuilder streamed = new StringBuilder();
            List<String> pieces = new ArrayList<>();
            Answer a = vlm.ask(question(vlm, dir, exp), GenerationOptions.greedy(16, true), p -> {
                streamed.append(p);
                pieces.add(p);
            });
            assertArrayEquals(Fixtures.ints(exp.get("generated_ids")), a.ids());
            assertEquals(exp.get("generated_text").asText(), a.text());
            assertEquals(a.text(), streamed.toString());
            assertTrue(pieces.size() > 1, "text arrived in one piece: not streamed");
        }
    }

    static Question question(CogVlm vlm, Path dir, JsonNode exp) {
        List<Turn> history = new ArrayList<>();
        for (JsonNode t : exp.get("history")) {
            history.add(new Turn(t.get(0).asText(), t.get(1).asText()));
        }
        RgbImage image = exp.get("image").isNull() ? null : vlm.loadImage(dir.resolve(exp.get("image").asText()));
        return new Question(exp.get("query").asText(), history, image, exp.get("template_version").asText());
    }

    @Test
    void emptyPromptIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Question.of("  ", null));
        assertEquals("the prompt is empty", e.getMessage());
    }

    @Test
    void promptLongerThanTheContextIsRefusedBeforeAnyWork() {
        Path dir = Fixtures.caseDir("cogvlm_chat_textonly");
        try (CogVlm vlm = CogVlm.load(dir, CogVlm.Options.defaults().withTokenizer(Path.of("bytes")))) {
            Question q = Question.of("x".repeat(5000), null);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> vlm.ask(q, GenerationOptions.defaults(), null));
            assertTrue(e.getMessage().contains("context is 2048"), e.getMessage());
        }
    }

    @Test
    void cogAgentWithoutImageIsRefused() {
        Path dir = Fixtures.caseDir("cogagent_chat_rgba");
        try (CogVlm vlm = CogVlm.load(dir, CogVlm.Options.defaults().withTokenizer(Path.of("bytes")))) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> vlm.input(Question.of("hi", null)));
            assertTrue(e.getMessage().contains("CogAgent needs an image"), e.getMessage());
        }
    }

    @Test
    void missingTokenizerSaysWhatToDo() {
        Path dir = Fixtures.caseDir("cogvlm_base");
        try (CogVlm vlm = CogVlm.load(dir)) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> vlm.input(Question.of("hi", null)));
            assertTrue(e.getMessage().contains("has no tokenizer") && e.getMessage().contains("--tokenizer"), e.getMessage());
        }
    }

    @Test
    void followUpQuestionReusesTheImageAndPrefixExactly(@org.junit.jupiter.api.io.TempDir Path tmp) throws java.io.IOException {
        Path dir = Fixtures.caseDir("cogvlm_vqa_gray");
        CogVlm.Options opts = CogVlm.Options.defaults().withTokenizer(Path.of("bytes")).withCacheDir(tmp);
        GenerationOptions g = GenerationOptions.greedy(6, true);
        try (CogVlm vlm = CogVlm.load(dir, opts)) {
            RgbImage img = vlm.loadImage(dir.resolve("camera.png"));
            Answer first = vlm.ask(new Question("What is this?", List.of(), img, "chat"), g, null);
            assertEquals(0, first.reusedTokens());
            Question follow = new Question("And the colour?", List.of(new Turn("What is this?", first.text())), img, "chat");
            Answer second = vlm.ask(follow, g, null);
            int image = vlm.config().imageTokens();
            assertTrue(second.reusedTokens() > image, "reused " + second.reusedTokens() + " tokens");
            // The same question from scratch, in a fresh process-equivalent, gives the same tokens.
            try (CogVlm fresh = CogVlm.load(dir, CogVlm.Options.defaults().withTokenizer(Path.of("bytes")))) {
                Answer ref = fresh.ask(follow, g, null);
                assertArrayEquals(ref.ids(), second.ids());
            }
            // Another process with the same cache folder finds the image features on disk.
            try (CogVlm other = CogVlm.load(dir, opts)) {
                Answer third = other.ask(new Question("What is this?", List.of(), img, "chat"), g, null);
                assertArrayEquals(first.ids(), third.ids());
                assertTrue(third.visionSeconds() < first.visionSeconds() + 1, "features came from the cache folder");
            }
            try (var files = java.nio.file.Files.list(tmp)) {
                assertEquals(1, files.count(), "one feature file for one image");
            }
        }
    }
}
