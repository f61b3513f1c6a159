package dev.cogvlm4j.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.cogvlm4j.CogVlm;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The server driven by real clients over loopback: the official OpenAI Java SDK, and raw HTTP for every error. */
@Timeout(120)
class ServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path ROOT = Paths.get("").toAbsolutePath().getParent();
    private static CogVlm vlm;
    private static ChatServer server;
    private static HttpClient http;
    private static String base;
    private static String coins;

    @BeforeAll
    static void start() throws Exception {
        vlm = CogVlm.load(ROOT.resolve("models/cogvlm-tiny-random"));
        server = new ChatServer(vlm, "tiny", ServerConfig.defaults().withPort(0).withQueueSize(8));
        base = "http://127.0.0.1:" + server.port();
        http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        coins = "data:image/png;base64," + Base64.getEncoder().encodeToString(Files.readAllBytes(ROOT.resolve("examples/coins.png")));
    }

    @AfterAll
    static void stop() {
        server.close();
        vlm.close();
    }

    private static HttpResponse<String> post(String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String userWithImage(String text, String url, String extra) {
        return "{\"model\":\"tiny\",\"max_tokens\":8" + extra + ",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\""
                + text + "\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + url + "\"}}]}]}";
    }

    private static void assertError(HttpResponse<String> r, int status, String fragment) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertTrue(e != null && e.get("message").asText().contains(fragment), r.body());
        assertTrue(e.has("type") && e.has("param") && e.has("code"), "OpenAI error shape: " + r.body());
    }

    private static ChatCompletionCreateParams imageQuestion(int maxTokens) {
        return ChatCompletionCreateParams.builder().model("tiny").maxCompletionTokens(maxTokens)
                .addUserMessageOfArrayOfContentParts(List.of(
                        ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text("How many coins?").build()),
                        ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder()
                                .imageUrl(ChatCompletionContentPartImage.ImageUrl.builder().url(coins).build()).build())))
                .build();
    }

    @Test
    void officialSdkNonStreamingAndStreamingAgree() {
        OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(base + "/v1").apiKey("unused").build();
        ChatCompletion c = client.chat().completions().create(imageQuestion(12));
        String text = c.choices().get(0).message().content().orElseThrow();
        assertTrue(!text.isEmpty());
        long prompt = c.usage().orElseThrow().promptTokens();
        // bos + 6 image slots + the question's tokens.
        assertTrue(prompt > 1 + vlm.config().imageTokens(), "prompt tokens include the image: " + prompt);
        StringBuilder streamed = new StringBuilder();
        int chunks = 0;
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(imageQuestion(12))) {
            for (ChatCompletionChunk ch : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
                if (!ch.choices().isEmpty()) {
                    ch.choices().get(0).delta().content().ifPresent(streamed::append);
                    chunks++;
                }
            }
        }
        assertEquals(text, streamed.toString(), "greedy stream equals the non-streamed answer");
        assertTrue(chunks > 3, "tokens arrived in separate chunks");
    }

    @Test
    void streamingIsReal() throws Exception {
        String body = "{\"stream\":true,\"max_tokens\":600,\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a long story.\"}]}";
        HttpResponse<Stream<String>> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        long firstContent = -1;
        long done = -1;
        List<String> lines = new ArrayList<>();
        for (String line : (Iterable<String>) r.body()::iterator) {
            if (line.startsWith("data: ") && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"") && firstContent < 0) {
                firstContent = System.nanoTime();
            }
            if (line.equals("data: [DONE]")) {
                done = System.nanoTime();
            }
            lines.add(line);
        }
        assertTrue(firstContent > 0 && done > 0, String.join("\n", lines.subList(0, Math.min(5, lines.size()))));
        assertTrue(done - firstContent > 10_000_000L, "first token arrived " + (done - firstContent) / 1e6
                + " ms before the end: not streamed");
    }

    @Test
    void badRequestsGetOpenAiErrors() throws Exception {
        assertError(post("{nope"), 400, "not valid JSON");
        assertError(post("[1,2]"), 400, "JSON object");
        assertError(post("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":\"hot\"}"), 400, "temperature");
        assertError(post("{\"messages\":\"hi\"}"), 400, "list of messages");
        assertError(post("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 404, "does not exist");
        assertError(post("{\"messages\":[]}"), 400, "empty");
        assertError(post("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"x\"}]}"), 400, "last message");
        assertError(post("{\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400, "n=1");
        assertError(post("{\"messages\":[{\"role\":\"robot\",\"content\":\"hi\"}]}"), 400, "role");
        assertError(post(userWithImage("hi", "data:text/plain;base64,aGVsbG8=", "")), 400, "not an image");
        assertError(post(userWithImage("hi", "data:image/png;base64,aGVsbG8=", "")), 400, "not a supported image");
        byte[] png = Files.readAllBytes(ROOT.resolve("examples/coins.png"));
        String cut = "data:image/png;base64," + Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(png, png.length / 3));
        assertError(post(userWithImage("hi", cut, "")), 400, "corrupt or truncated");
        byte[] bomb = Files.readAllBytes(ROOT.resolve("cogvlm4j-core/src/test/resources/images/bomb_100000x100000.png"));
        assertError(post(userWithImage("hi", "data:image/png;base64," + Base64.getEncoder().encodeToString(bomb), "")), 400, "exceeds the limit");
        assertError(post(userWithImage("hi", "https://example.com/cat.png", "")), 400, "remote image URLs are disabled");
        String huge = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "a".repeat(50 << 20) + "\"}]}";
        assertError(post(huge), 413, "larger than");
        HttpResponse<String> notFound = http.send(HttpRequest.newBuilder(URI.create(base + "/v2/nothing")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertError(notFound, 404, "no route");
        // Still serving afterwards.
        assertEquals(200, post("{\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
    }

    @Test
    void manyClientsAtOnceGetServedOrToldToRetry() throws Exception {
        String body = "{\"max_tokens\":48,\"messages\":[{\"role\":\"user\",\"content\":\"Count to twenty.\"}]}";
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            all.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        int ok = 0;
        int busy = 0;
        String reference = null;
        for (CompletableFuture<HttpResponse<String>> f : all) {
            HttpResponse<String> r = f.get();
            if (r.statusCode() == 200) {
                ok++;
                String text = JSON.readTree(r.body()).at("/choices/0/message/content").asText();
                if (reference == null) {
                    reference = text;
                }
                assertEquals(reference, text, "every client gets its own, identical greedy answer");
            } else {
                assertEquals(429, r.statusCode(), r.body());
                assertTrue(r.headers().firstValue("Retry-After").isPresent(), "429 without Retry-After");
                busy++;
            }
        }
        assertEquals(200, ok + busy);
        assertTrue(ok >= 9 && busy > 0, ok + " served, " + busy + " refused");
        assertEquals(200, post("{\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}").statusCode());
    }

    @Test
    void disconnectingClientStopsItsGeneration() throws Exception {
        String body = "{\"stream\":true,\"max_tokens\":1900,\"messages\":[{\"role\":\"user\",\"content\":\"Go on forever.\"}]}";
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
        InputStream in = r.body();
        in.read(new byte[512]);
        in.close();
        long t0 = System.nanoTime();
        boolean idle = false;
        while (System.nanoTime() - t0 < 5_000_000_000L) {
            JsonNode h = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
            if (!h.get("busy").asBoolean()) {
                idle = true;
                break;
            }
            Thread.sleep(50);
        }
        assertTrue(idle, "generation went on after the client left");
    }

    @Test
    void modelsHealthAndPage() throws Exception {
        JsonNode models = JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(base + "/v1/models")).build(),
                HttpResponse.BodyHandlers.ofString()).body());
        assertEquals("tiny", models.at("/data/0/id").asText());
        assertEquals("CogVLM", models.at("/data/0/cogvlm4j/family").asText());
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("/v1/chat/completions"));
    }

    @Test
    void latestImageIsUsedAndSaidSo() throws Exception {
        String body = "{\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"first\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + coins + "\"}}]},{\"role\":\"assistant\",\"content\":\"ok\"},"
                + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"second\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\""
                + coins + "\"}}]}]}";
        HttpResponse<String> r = post(body);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode x = JSON.readTree(r.body()).get("cogvlm4j");
        assertEquals(2, x.get("images_received").asInt());
        assertEquals(2, x.get("image_from_message").asInt());
        assertTrue(x.get("image_policy").asText().contains("latest"));
    }

    @Test
    void stopStringsCutTheAnswer() throws Exception {
        String q = "{\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"Say something.\"}]";
        String full = JSON.readTree(post(q + "}").body()).at("/choices/0/message/content").asText();
        assertTrue(full.length() > 6, full);
        String stop = full.substring(3, 6);
        JsonNode cut = JSON.readTree(post(q + ",\"stop\":[" + JSON.writeValueAsString(stop) + "]}").body());
        String expected = full.substring(0, full.indexOf(stop));
        assertEquals(expected, cut.at("/choices/0/message/content").asText());
        assertEquals("stop", cut.at("/choices/0/finish_reason").asText());
    }

    @Test
    void remoteImagesWhenEnabledWithASizeLimit() throws Exception {
        com.sun.net.httpserver.HttpServer files = com.sun.net.httpserver.HttpServer.create(
                new java.net.InetSocketAddress("127.0.0.1", 0), 0);
        byte[] png = Files.readAllBytes(ROOT.resolve("examples/coins.png"));
        files.createContext("/coins.png", ex -> {
            ex.sendResponseHeaders(200, png.length);
            ex.getResponseBody().write(png);
            ex.close();
        });
        files.start();
        ServerConfig d = ServerConfig.defaults();
        ServerConfig open = new ServerConfig("127.0.0.1", 0, 8, d.maxBodyBytes(), d.maxImagePixels(), d.requestTimeout(), true,
                d.remoteImageBytes(), Duration.ofSeconds(5), 8);
        ServerConfig small = new ServerConfig("127.0.0.1", 0, 8, d.maxBodyBytes(), d.maxImagePixels(), d.requestTimeout(), true,
                1000, Duration.ofSeconds(5), 8);
        String url = "http://127.0.0.1:" + files.getAddress().getPort() + "/coins.png";
        try (ChatServer a = new ChatServer(vlm, "tiny", open); ChatServer b = new ChatServer(vlm, "tiny", small)) {
            String body = userWithImage("How many?", url, "");
            HttpResponse<String> ok = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.port() + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
            assertEquals(1, JSON.readTree(ok.body()).at("/cogvlm4j/images_received").asInt());
            HttpResponse<String> tooBig = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + b.port() + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
            assertError(tooBig, 400, "larger than 1000 bytes");
        } finally {
            files.stop(0);
        }
    }

    @Test
    void concurrentStreamsKeepTheirOwnTokens() throws Exception {
        String[] prompts = {"Tell me about coins.", "Describe a sunny beach in detail.", "What is seven times six?"};
        String[] alone = new String[prompts.length];
        for (int i = 0; i < prompts.length; i++) {
            alone[i] = JSON.readTree(post("{\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"" + prompts[i]
                    + "\"}]}").body()).at("/choices/0/message/content").asText();
        }
        List<CompletableFuture<HttpResponse<String>>> streams = new ArrayList<>();
        for (String p : prompts) {
            streams.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions")).POST(HttpRequest.BodyPublishers
                    .ofString("{\"stream\":true,\"max_tokens\":20,\"messages\":[{\"role\":\"user\",\"content\":\"" + p + "\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (int i = 0; i < prompts.length; i++) {
            StringBuilder text = new StringBuilder();
            for (String line : streams.get(i).get().body().split("\n")) {
                if (line.startsWith("data: {")) {
                    JsonNode d = JSON.readTree(line.substring(6)).at("/choices/0/delta/content");
                    if (!d.isMissingNode() && !d.isNull()) {
                        text.append(d.asText());
                    }
                }
            }
            assertEquals(alone[i], text.toString(), "stream " + i + " carries only its own tokens");
        }
    }

    @Test
    void requestsOverTheirTimeAreCancelled() throws Exception {
        ServerConfig d = ServerConfig.defaults();
        ServerConfig quick = new ServerConfig("127.0.0.1", 0, 8, d.maxBodyBytes(), d.maxImagePixels(), Duration.ofMillis(300),
                false, d.remoteImageBytes(), d.remoteImageTimeout(), 8);
        try (ChatServer s = new ChatServer(vlm, "tiny", quick)) {
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"max_tokens\":1900,\"messages\":[{\"role\":\"user\",\"content\":\"Go on.\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertError(r, 504, "took longer");
        }
    }
}
