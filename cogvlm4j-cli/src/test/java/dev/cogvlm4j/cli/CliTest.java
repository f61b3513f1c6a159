package dev.cogvlm4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.io.SafeTensorsFile;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The command line as a user and an acceptance checker drive it: contract commands, help, and every bad input. */
class CliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Paths.get("").toAbsolutePath().getParent();
    private static final Path CORE_FIXTURES = ROOT.resolve("cogvlm4j-core/src/test/resources/fixtures");
    private static final Path BUNDLED = ROOT.resolve("models/cogvlm-tiny-random");

    @TempDir
    Path tmp;

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = assertTimeoutPreemptively(Duration.ofSeconds(120),
                () -> Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args));
        return new Result(code, out.toString(), err.toString());
    }

    /** The bundled shapes model, a real trained checkpoint with a tokenizer. */
    static Path fixtureModel() {
        return ROOT.resolve("models/cogvlm-shapes");
    }

    static Path fixture(String name) {
        Path p = CORE_FIXTURES.resolve(name);
        if (Files.isDirectory(p)) {
            return p;
        }
        String shared = System.getProperty("cogvlm4j.fixtures");
        assumeTrue(shared != null && Files.isDirectory(Paths.get(shared, name)), "fixture " + name + " not available");
        return Paths.get(shared, name);
    }

    /** A one-line error, non-zero exit, and no stack trace. */
    static void assertCleanError(Result r, String fragment) {
        assertTrue(r.code() != 0, "exit code 0 for a bad input: " + r);
        assertTrue(r.err().contains(fragment), "error should mention '" + fragment + "': " + r.err());
        assertTrue(!r.err().contains("\tat ") && !r.err().contains("Exception"), "stack trace printed: " + r.err());
        assertTrue(r.err().strip().lines().count() <= 2, "error longer than a line (+usage): " + r.err());
    }

    private Path request(String json) throws IOException {
        Path p = Files.createTempFile(tmp, "req", ".json");
        Files.writeString(p, json);
        return p;
    }

    private static String rawRequest(JsonNode exp, Path dir) {
        String img = exp.get("image").isNull() ? "" : ", \"image\": " + JSON.valueToTree(dir.resolve(exp.get("image").asText()).toString());
        return "{\"input_ids\": " + exp.get("input_ids") + ", \"token_type_ids\": " + exp.get("token_type_ids") + img + "}";
    }

    @ParameterizedTest
    @ValueSource(strings = {"cogvlm_base", "cogagent_chat_rgba", "cogvlm_chat_textonly", "cogvlm2_chat_llama3vocab"})
    void logitsContract(String name) throws IOException {
        Path dir = fixture(name);
        JsonNode exp = JSON.readTree(dir.resolve("expected.json").toFile());
        Path out = tmp.resolve("out.safetensors");
        Result r = run("logits", "--model", dir.toString(), "--request", request(rawRequest(exp, dir)).toString(),
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        try (SafeTensorsFile got = SafeTensorsFile.open(out);
             SafeTensorsFile want = SafeTensorsFile.open(dir.resolve("expected.safetensors"))) {
            for (String t : List.of("input_ids", "token_type_ids", "position_ids")) {
                assertArrayEquals(want.longs(t), got.longs(t), t);
            }
            int len = exp.get("input_ids").size();
            long[] shape = got.entries().get("logits").shape();
            assertEquals(len, shape[0]);
            for (String t : List.of("logits", "vision_out", "cross_vision_out", "pixel_values")) {
                if (!want.entries().containsKey(t)) {
                    assertTrue(!got.entries().containsKey(t) || t.equals("pixel_values"), t + " should be absent");
                    continue;
                }
                float[] a = want.floats(t);
                float[] b = got.floats(t);
                assertEquals(a.length, b.length, t);
                double max = 0;
                for (int i = 0; i < a.length; i++) {
                    max = Math.max(max, Math.abs(a[i] - b[i]));
                }
                assertTrue(max <= 1e-3, t + " differs by " + max);
            }
        }
    }

    @Test
    void generateContractSingleAndBatch() throws IOException {
        Path dir = fixture("cogvlm_vqa_gray");
        JsonNode exp = JSON.readTree(dir.resolve("expected.json").toFile());
        Path req = request(rawRequest(exp, dir));
        Result r = run("generate", "--model", dir.toString(), "--request", req.toString(), "--max-new-tokens", "16",
                "--greedy", "--ignore-eos", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals(exp.get("generated_ids"), o.get("ids"));
        assertTrue(o.get("text").isNull(), "no tokenizer: text is null");

        // Text requests with the fixtures' byte tokenizer reproduce the same ids; a bad line gets an error line.
        Path reqs = tmp.resolve("reqs.jsonl");
        String text = "{\"prompt\": \"What is the man holding?\", \"image\": \"camera.png\", \"template\": \"vqa\"}";
        Files.writeString(reqs, rawRequest(exp, dir) + "\n{oops\n" + text + "\n");
        r = run("generate", "--model", dir.toString(), "--tokenizer", "bytes", "--requests", reqs.toString(),
                "--max-new-tokens", "16", "--greedy", "--ignore-eos", "--json");
        assertEquals(Main.BAD_INPUT, r.code());
        List<String> lines = r.out().lines().toList();
        assertEquals(3, lines.size(), r.out());
        assertEquals(exp.get("generated_ids"), JSON.readTree(lines.get(0)).get("ids"));
        assertTrue(JSON.readTree(lines.get(1)).get("error").asText().contains("line 2: not valid JSON"));
        assertEquals(exp.get("generated_ids"), JSON.readTree(lines.get(2)).get("ids"));
    }

    @Test
    void generateWithRealTokenizerGivesTheDemoText() throws IOException {
        Path dir = fixture("cogvlm_chat_realtok_llama2");
        JsonNode exp = JSON.readTree(dir.resolve("expected.json").toFile());
        Path req = request(JSON.writeValueAsString(exp.get("request")));
        Result r = run("generate", "--model", dir.toString(), "--request", req.toString(), "--max-new-tokens", "16",
                "--greedy", "--ignore-eos", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals(exp.get("generated_ids"), o.get("ids"));
        assertEquals(exp.get("generated_text").asText(), o.get("text").asText());
    }

    @Test
    void tokenizeContract() throws IOException {
        Path in = tmp.resolve("in.jsonl");
        Files.writeString(in, "{\"text\": \"Question: What is in the image? Answer:\"}\n{\"text\": \"Hello<s>world\"}\n");
        Path out = tmp.resolve("out.jsonl");
        Result r = run("tokenize", "--tokenizer", BUNDLED.toString(), "--input", in.toString(), "--output", out.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals("{\"ids\":[894,29901,1724,338,297,278,1967,29973,673,29901]}", lines.get(0));
        assertEquals("{\"ids\":[15043,1,11526]}", lines.get(1));
    }

    @Test
    void runStreamsAnAnswerWithTheBundledModel() {
        Result r = run("run", "--model", BUNDLED.toString(), "--image", ROOT.resolve("examples/coins.png").toString(),
                "--prompt", "How many coins are there?", "--max-new-tokens", "8");
        assertEquals(0, r.code(), r.err());
        assertTrue(!r.out().isBlank());
    }

    @Test
    void chatKeepsHistoryAndSwitchesImages() {
        picocli.CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String script = "What is this?\n/image " + ROOT.resolve("examples/camera.png") + "\nAnd now?\n/image nope.png\n/history\n/exit\n";
        ((ChatCommand) cl.getSubcommands().get("chat").getCommand()).input =
                new java.io.ByteArrayInputStream(script.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        int code = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> cl.execute("chat", "--model", BUNDLED.toString(),
                "--image", ROOT.resolve("examples/coins.png").toString(), "--max-new-tokens", "6"));
        assertEquals(0, code, err.toString());
        String o = out.toString();
        assertTrue(o.contains("CogVLM ready with"), o);
        assertEquals(2, o.split("model> ", -1).length - 1, "two answers: " + o);
        assertTrue(o.contains("(image ") && o.contains("512x512"), o);
        assertTrue(o.contains("Q: What is this?") && o.contains("Q: And now?"), "history kept: " + o);
        assertTrue(err.toString().contains("error: nope.png: no such file"), err.toString());
    }

    @Test
    void groundPrintsBoxesAndDrawsThem() throws IOException {
        Path png = tmp.resolve("boxed.png");
        Result r = run("ground", "--model", BUNDLED.toString(), "--image", ROOT.resolve("examples/coins.png").toString(),
                "--prompt", "Where are the coins?", "--max-new-tokens", "6", "--out", png.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals(384, o.get("width").asInt());
        assertTrue(o.get("boxes").isArray() && o.has("text"));
        assertTrue(Files.size(png) > 1000, "image written");
        assertCleanError(run("serve", "--model", BUNDLED.toString(), "--port", "70000"), "invalid limits");
    }

    @Test
    void infoDescribesTheModel() throws IOException {
        Result r = run("info", "--model", fixture("cogagent_chat_rgba").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals("CogAgent", o.get("family").asText());
        assertEquals("chat_old", o.get("template_version").asText());
        assertEquals(2, o.get("cross_vision").get("layers_run").asInt());
        assertTrue(o.get("parameters").asLong() > 0);
    }

    @Test
    void quantizedSingleFileModelKeepsTheGreedyAnswer() throws IOException {
        Path dir = fixture("cogvlm_chat_realtok_llama2");
        JsonNode exp = JSON.readTree(dir.resolve("expected.json").toFile());
        Path gguf = tmp.resolve("model-q8_0.gguf");
        Result q = run("quantize", "--model", dir.toString(), "--type", "q8_0", "--out", gguf.toString());
        assertEquals(0, q.code(), q.err());
        assertTrue(q.err().contains("wrote") && Files.size(gguf) < Files.size(dir.resolve("model.safetensors")) + 700_000);
        Path req = request(JSON.writeValueAsString(exp.get("request")).replace("coins.png", dir.resolve("coins.png").toString()));
        Result r = run("generate", "--model", gguf.toString(), "--request", req.toString(), "--max-new-tokens", "16",
                "--greedy", "--ignore-eos", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        assertEquals(exp.get("generated_ids"), o.get("ids"), "tokenizer and config travel in the GGUF file");
        assertEquals(exp.get("generated_text").asText(), o.get("text").asText());
        assertCleanError(run("quantize", "--model", dir.toString(), "--type", "q3_k", "--out", gguf.toString()), "unknown type");
        Path notGguf = tmp.resolve("x.gguf");
        Files.writeString(notGguf, "hello");
        assertCleanError(run("info", "--model", notGguf.toString()), "not a model folder or a GGUF file");
    }

    @Test
    void benchReportsAgainstMeasuredLimits() throws IOException {
        Result r = run("bench", "--shape", fixture("cogvlm_base").resolve("config.json").toString(), "--quant", "q8_0",
                "--layers", "1", "--decode-steps", "2", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode o = JSON.readTree(r.out());
        for (String key : List.of("vision_seconds", "prefill_tokens_per_second", "decode_tokens_per_second", "ttft_seconds",
                "gemm_gflops", "fma_peak_gflops", "decode_gbps", "bandwidth_gbps", "peak_rss_bytes", "layers_run", "extrapolated")) {
            assertTrue(o.has(key), "missing " + key + " in " + o);
        }
        assertTrue(o.get("fma_peak_gflops").asDouble() > 0 && o.get("bandwidth_gbps").asDouble() > 0);
        assertTrue(o.get("extrapolated").asBoolean(), "2 real layers, 1 run");
        assertCleanError(run("bench", "--shape", "gpt-5"), "unknown shape");
        assertCleanError(run("bench", "--layers", "0"), "--layers must be");
        assertCleanError(run("bench", "--quant", "q2_k"), "unknown type");
    }

    @Test
    void helpOnEveryCommand() {
        for (String c : List.of("run", "chat", "info", "logits", "generate", "tokenize", "quantize", "bench", "ground", "serve")) {
            Result r = run(c, "--help");
            assertEquals(0, r.code(), c);
            assertTrue(r.out().contains("Usage: cogvlm4j " + c), r.out());
        }
        Result r = run("--help");
        assertEquals(0, r.code());
    }

    @Test
    void badArgumentsGiveAUsageLine() {
        Result r = run("run", "--frobnicate");
        assertEquals(Main.USAGE, r.code());
        assertTrue(r.err().contains("usage: cogvlm4j run"), r.err());
        assertCleanError(r, "error:");
        assertCleanError(run("generate", "--model", "x"), "--request");
        assertCleanError(run("run", "--prompt", "hi", "--max-new-tokens", "lots"), "lots");
    }

    @Test
    void badModelFolders() throws IOException {
        assertCleanError(run("info", "--model", tmp.resolve("nope").toString()), "no such model folder");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertCleanError(run("info", "--model", empty.toString()), "no model.safetensors");

        // A truncated checkpoint and a header that lies about its length.
        Path src = fixture("cogvlm_base");
        Path cut = Files.createDirectories(tmp.resolve("cut"));
        Files.copy(src.resolve("config.json"), cut.resolve("config.json"));
        byte[] all = Files.readAllBytes(src.resolve("model.safetensors"));
        Files.write(cut.resolve("model.safetensors"), java.util.Arrays.copyOf(all, all.length - 1000));
        assertCleanError(run("info", "--model", cut.toString()), "truncated");
        byte[] lying = all.clone();
        ByteBuffer.wrap(lying).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(cut.resolve("model.safetensors"), lying);
        assertCleanError(run("info", "--model", cut.toString()), "header length");

        // config.json that disagrees with the weights, and one that is not JSON.
        Files.copy(src.resolve("model.safetensors"), cut.resolve("model.safetensors"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(cut.resolve("config.json"), Files.readString(src.resolve("config.json"))
                .replace("\"intermediate_size\": 128", "\"intermediate_size\": 96"));
        assertCleanError(run("info", "--model", cut.toString()), "config.json implies");
        Files.writeString(cut.resolve("config.json"), "{");
        assertCleanError(run("info", "--model", cut.toString()), "config.json: not valid JSON");
    }

    @Test
    void badRequests() throws IOException {
        Path dir = fixture("cogvlm_base");
        String m = dir.toString();
        Path out = tmp.resolve("o.safetensors");
        assertCleanError(run("logits", "--model", m, "--request", request("{nope").toString(), "--out", out.toString()), "not valid JSON");
        assertCleanError(run("logits", "--model", m, "--request", request("[1]").toString(), "--out", out.toString()), "JSON object");
        assertCleanError(run("logits", "--model", m, "--request", request("{\"input_ids\": \"x\"}").toString(), "--out", out.toString()),
                "list of integers");
        assertCleanError(run("logits", "--model", m, "--request", request("{\"input_ids\": [1, 99999]}").toString(), "--out", out.toString()),
                "outside the vocabulary");
        assertCleanError(run("logits", "--model", m, "--request", request("{\"input_ids\": [1, 1, 1], \"token_type_ids\": [0, 1, 0]}").toString(),
                "--out", out.toString()), "no \"image\"");
        assertCleanError(run("logits", "--model", m, "--request", request("{\"input_ids\": []}").toString(), "--out", out.toString()), "empty");
        assertCleanError(run("generate", "--model", m, "--tokenizer", "bytes", "--request", request("{\"prompt\": \"\"}").toString()),
                "the prompt is empty");
        assertCleanError(run("generate", "--model", m, "--tokenizer", "bytes", "--request",
                request("{\"prompt\": \"" + "y".repeat(3000) + "\"}").toString()), "context is 2048");
        assertCleanError(run("generate", "--model", m, "--request", request("{\"prompt\": \"hi\"}").toString()), "has no tokenizer");
        assertCleanError(run("generate", "--model", m, "--tokenizer", "bytes", "--request",
                request("{\"prompt\": \"hi\", \"template\": \"poem\"}").toString()), "unknown template");
        assertCleanError(run("generate", "--model", fixture("cogagent_chat_rgba").toString(), "--tokenizer", "bytes", "--request",
                request("{\"prompt\": \"hi\"}").toString()), "CogAgent needs an image");
    }

    @Test
    void badImages() throws IOException {
        String m = BUNDLED.toString();
        Path notImage = tmp.resolve("notes.png");
        Files.writeString(notImage, "just text");
        assertCleanError(run("run", "--model", m, "--image", notImage.toString(), "--prompt", "hi"), "not a supported image");
        byte[] png = Files.readAllBytes(ROOT.resolve("examples/coins.png"));
        Path cut = tmp.resolve("cut.png");
        Files.write(cut, java.util.Arrays.copyOf(png, png.length / 3));
        assertCleanError(run("run", "--model", m, "--image", cut.toString(), "--prompt", "hi"), "corrupt or truncated");
        Path bomb = ROOT.resolve("cogvlm4j-core/src/test/resources/images/bomb_100000x100000.png");
        assertCleanError(run("run", "--model", m, "--image", bomb.toString(), "--prompt", "hi"), "exceeds the limit");
        assertCleanError(run("run", "--model", m, "--image", tmp.resolve("missing.jpg").toString(), "--prompt", "hi"), "no such file");
        assertCleanError(run("run", "--model", m, "--image", ROOT.resolve("examples/coins.png").toString(), "--prompt", " "),
                "the prompt is empty");
    }
}
