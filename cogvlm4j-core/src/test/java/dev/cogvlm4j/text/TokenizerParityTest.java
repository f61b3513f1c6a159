package dev.cogvlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every record of every {@code *.jsonl} in the shared tokenizer fixtures (found by glob, so new files are picked
 * up): Llama-2 and Llama-3 encode and decode, special-token text, byte fallback, clean-up.
 */
class TokenizerParityTest {
    private static Tokenizer llama2Model;
    private static Tokenizer llama2Json;
    private static ByteLevelBpeTokenizer llama3;

    @BeforeAll
    static void load() {
        Path dir = Fixtures.sharedFile("tokenizers");
        llama2Model = Tokenizers.load(dir.resolve("llama2/tokenizer.model"));
        llama2Json = Tokenizers.load(dir.resolve("llama2/tokenizer.json"));
        llama3 = (ByteLevelBpeTokenizer) Tokenizers.load(dir.resolve("llama3"));
    }

    static Stream<JsonNode> records(String prefix) throws IOException {
        Path dir = Fixtures.shared() == null ? null : Fixtures.shared().resolve("tokenizers");
        List<JsonNode> out = new ArrayList<>();
        if (dir == null || !Files.isDirectory(dir)) {
            return Stream.empty();
        }
        ObjectMapper json = new ObjectMapper();
        try (var files = Files.list(dir)) {
            for (Path f : files.filter(p -> p.getFileName().toString().startsWith(prefix)
                    && p.toString().endsWith(".jsonl")).sorted().toList()) {
                for (String line : Files.readAllLines(f)) {
                    if (!line.isBlank()) {
                        out.add(json.readTree(line));
                    }
                }
            }
        }
        return out.stream();
    }

    static Stream<JsonNode> encodeRecords() throws IOException {
        return records("encode");
    }

    static Stream<JsonNode> decodeRecords() throws IOException {
        return records("decode");
    }

    @ParameterizedTest
    @MethodSource("encodeRecords")
    void encodesAndDecodesLikeTheReference(JsonNode r) {
        String text = r.get("text").asText();
        if (r.has("llama2_ids")) {
            int[] want = Fixtures.ints(r.get("llama2_ids"));
            assertArrayEquals(want, llama2Model.encode(text), "llama2 (tokenizer.model) ids of " + text);
            assertArrayEquals(want, llama2Json.encode(text), "llama2 (tokenizer.json) ids of " + text);
            assertEquals(r.get("llama2_decode").asText(), llama2Model.decode(want, false), "llama2 decode");
            if (r.has("llama2_decode_skip_special")) {
                assertEquals(r.get("llama2_decode_skip_special").asText(), llama2Model.decode(want, true),
                        "llama2 decode skip special");
            }
        }
        if (r.has("llama3_ids")) {
            int[] want = Fixtures.ints(r.get("llama3_ids"));
            assertArrayEquals(want, llama3.encode(text), "llama3 ids of " + text);
            assertEquals(r.get("llama3_decode_raw").asText(), llama3.withCleanUp(false).decode(want, false), "llama3 raw");
            assertEquals(r.get("llama3_decode_hf").asText(), llama3.decode(want, false), "llama3 hf");
            assertEquals(r.get("llama3_decode_hf_skip_special").asText(), llama3.decode(want, true), "llama3 hf skip");
        }
    }

    @ParameterizedTest
    @MethodSource("decodeRecords")
    void decodesHandPickedIds(JsonNode r) {
        int[] ids = Fixtures.ints(r.get("ids"));
        if (r.get("tokenizer").asText().equals("llama2")) {
            assertEquals(r.get("decode").asText(), llama2Model.decode(ids, false), r.get("name").asText());
            assertEquals(r.get("decode").asText(), llama2Json.decode(ids, false), r.get("name").asText());
            assertEquals(r.get("decode_skip_special").asText(), llama2Model.decode(ids, true), r.get("name").asText());
        } else {
            assertEquals(r.get("decode_raw").asText(), llama3.withCleanUp(false).decode(ids, false), r.get("name").asText());
            assertEquals(r.get("decode_hf").asText(), llama3.decode(ids, false), r.get("name").asText());
            assertEquals(r.get("decode_hf_skip_special").asText(), llama3.decode(ids, true), r.get("name").asText());
        }
    }

    @Test
    void legacyModeMatchesLegacyIds() throws IOException {
        Path dir = Fixtures.sharedFile("tokenizers/llama2");
        Tokenizer legacy = SentencePieceTokenizer.fromModelProto(Files.readAllBytes(dir.resolve("tokenizer.model")),
                "tokenizer.model", true);
        int checked = 0;
        for (JsonNode r : encodeRecords().toList()) {
            if (r.has("llama2_ids_legacy")) {
                assertArrayEquals(Fixtures.ints(r.get("llama2_ids_legacy")), legacy.encode(r.get("text").asText()));
                checked++;
            }
        }
        assertEquals(true, checked > 0, "no legacy records found");
    }

    @Test
    void streamingNeverShowsBrokenCharacters() {
        // 😀 as four byte pieces after a space: nothing is emitted until the last byte arrives.
        int[] ids = {29871, 243, 162, 155, 131};
        TextStream s = llama2Model.stream(false);
        StringBuilder seen = new StringBuilder();
        for (int i = 0; i < ids.length; i++) {
            String piece = s.push(ids[i]);
            if (i > 0 && i < 4) {
                assertEquals("", piece, "piece after byte " + i);
            }
            seen.append(piece);
        }
        seen.append(s.finish());
        assertEquals("😀", seen.toString());
    }

    @Test
    void streamingHoldsTextThatCleanUpMayRewrite() {
        int[] ids = Fixtures.ints(decodeRecord("cleanup_spaces").get("ids"));
        TextStream s = llama3.stream(true);
        StringBuilder seen = new StringBuilder();
        for (int id : ids) {
            seen.append(s.push(id));
        }
        seen.append(s.finish());
        assertEquals("Hello, world. I don 't know!", seen.toString());
    }

    private static JsonNode decodeRecord(String name) {
        try {
            return decodeRecords().filter(r -> r.get("name").asText().equals(name)).findFirst().orElseThrow();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
