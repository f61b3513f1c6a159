package dev.cogvlm4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.io.ModelFormatException;
import dev.cogvlm4j.model.GenerationOptions;
import dev.cogvlm4j.text.Grounding;
import dev.cogvlm4j.vision.ImageFormatException;
import dev.cogvlm4j.vision.RgbImage;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The OpenAI-compatible server: {@code POST /v1/chat/completions} (JSON or server-sent events), {@code GET
 * /v1/models}, {@code GET /health} and the web chat page at {@code /}. One model answers one request at a time
 * (it uses every core); the others wait in a bounded queue, and a full queue answers 429 with Retry-After.
 */
public final class ChatServer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final CogVlm vlm;
    private final String modelId;
    private final ServerConfig config;
    private final ImageFetcher fetcher;
    private final ThreadPoolExecutor worker;
    private final Javalin app;
    private volatile double lastSeconds = 5;

    /** Starts serving {@code vlm} under the name {@code modelId}. */
    public ChatServer(CogVlm vlm, String modelId, ServerConfig config) {
        this.vlm = vlm;
        this.modelId = modelId;
        this.config = config;
        this.fetcher = new ImageFetcher(config);
        this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(Math.max(1, config.queueSize())),
                r -> {
                    Thread t = new Thread(r, "cogvlm4j-generate");
                    t.setDaemon(true);
                    return t;
                });
        this.app = Javalin.create(c -> {
            c.showJavalinBanner = false;
            c.http.maxRequestSize = config.maxBodyBytes();
            c.useVirtualThreads = true;
        });
        app.get("/", ctx -> page(ctx));
        app.get("/health", ctx -> ctx.json(JSON.createObjectNode().put("status", "ok").put("model", modelId)
                .put("queued", worker.getQueue().size()).put("busy", worker.getActiveCount() > 0)));
        app.get("/v1/models", ctx -> ctx.json(models()));
        app.post("/v1/chat/completions", this::completions);
        app.exception(ApiException.class, (e, ctx) -> error(ctx, e.status, e.type, e.getMessage(), e.param, e.code));
        app.exception(HttpResponseException.class, (e, ctx) -> {
            switch (e.getStatus()) {
                case 413 -> error(ctx, 413, "invalid_request_error", "request body is larger than " + config.maxBodyBytes()
                        + " bytes", null, "body_too_large");
                case 404 -> error(ctx, 404, "invalid_request_error", "no route " + ctx.method() + " " + ctx.path(), null, "not_found");
                case 405 -> error(ctx, 405, "invalid_request_error", "method " + ctx.method() + " not allowed on " + ctx.path(), null, null);
                default -> error(ctx, e.getStatus(), e.getStatus() < 500 ? "invalid_request_error" : "server_error", e.getMessage(), null, null);
            }
        });
        app.exception(Exception.class, (e, ctx) -> error(ctx, 500, "server_error", "internal error: " + e, null, null));
        app.start(config.host(), config.port());
    }

    /** The port actually bound. */
    public int port() {
        return app.port();
    }

    private ObjectNode models() {
        ObjectNode o = JSON.createObjectNode().put("object", "list");
        ObjectNode m = o.putArray("data").addObject();
        m.put("id", modelId).put("object", "model").put("created", 0).put("owned_by", "cogvlm4j");
        m.putObject("cogvlm4j").put("family", vlm.config().family().displayName())
                .put("template", vlm.config().templateVersion()).put("image_tokens", vlm.config().imageTokens());
        return o;
    }

    private void page(Context ctx) throws IOException {
        try (InputStream in = ChatServer.class.getResourceAsStream("/web/index.html")) {
            ctx.contentType("text/html; charset=utf-8").result(in.readAllBytes());
        }
    }

    private static void error(Context ctx, int status, String type, String message, String param, String code) {
        ObjectNode o = JSON.createObjectNode();
        ObjectNode e = o.putObject("error");
        e.put("message", message);
        e.put("type", type);
        if (param != null) {
            e.put("param", param);
        } else {
            e.putNull("param");
        }
        if (code != null) {
            e.put("code", code);
        } else {
            e.putNull("code");
        }
        ctx.status(status).contentType("application/json").result(o.toString());
    }

    /** A parsed, validated request. */
    private record Job(Question question, GenerationOptions options, List<String> stops, boolean stream,
                       boolean includeUsage, Conversation conversation) {
    }

    private Job parse(Context ctx) {
        byte[] body = ctx.bodyAsBytes();
        JsonNode r;
        try {
            r = JSON.readTree(body);
        } catch (IOException e) {
            throw ApiException.badRequest("the body is not valid JSON", null);
        }
        if (r == null || !r.isObject()) {
            throw ApiException.badRequest("the body must be a JSON object", null);
        }
        JsonNode model = r.get("model");
        if (model != null && !model.isNull()) {
            if (!model.isTextual()) {
                throw ApiException.badRequest("'model' must be a string", "model");
            }
            if (!model.asText().equals(modelId) && !model.asText().equals("cogvlm4j")) {
                throw new ApiException(404, "invalid_request_error", "the model '" + model.asText() + "' does not exist; this server has '"
                        + modelId + "'", "model", "model_not_found");
            }
        }
        int n = intField(r, "n", 1, 1, 128);
        float temperature = (float) numField(r, "temperature", 0, 0, 2);
        float topP = (float) numField(r, "top_p", 1, 1e-6, 1);
        int maxTokens = r.has("max_completion_tokens") ? intField(r, "max_completion_tokens", config.defaultMaxTokens(), 1, 1 << 16)
                : intField(r, "max_tokens", config.defaultMaxTokens(), 1, 1 << 16);
        long seed = r.has("seed") && !r.get("seed").isNull() ? longField(r, "seed") : 42L;
        float repetition = (float) numField(r, "repetition_penalty", 1, 1e-3, 10);
        int topK = intField(r, "top_k", 0, 0, 1 << 20);
        boolean stream = boolField(r, "stream");
        boolean usage = r.path("stream_options").path("include_usage").asBoolean(false);
        List<String> stops = new ArrayList<>();
        JsonNode stop = r.get("stop");
        if (stop != null && !stop.isNull()) {
            if (stop.isTextual()) {
                stops.add(stop.asText());
            } else if (stop.isArray() && stop.size() <= 4) {
                for (JsonNode s : stop) {
                    if (!s.isTextual() || s.asText().isEmpty()) {
                        throw ApiException.badRequest("'stop' entries must be non-empty strings", "stop");
                    }
                    stops.add(s.asText());
                }
            } else {
                throw ApiException.badRequest("'stop' must be a string or a list of up to 4 strings", "stop");
            }
        }
        if (n != 1) {
            throw ApiException.badRequest("only n=1 is supported", "n");
        }
        Conversation conv = Conversation.parse(r.get("messages"), fetcher);
        RgbImage image = null;
        if (conv.image() != null) {
            try {
                image = vlm.decodeImage(conv.image(), "image");
            } catch (ImageFormatException e) {
                throw ApiException.badRequest(e.getMessage(), "image_url");
            }
        }
        GenerationOptions opts = new GenerationOptions(maxTokens, temperature, topK, topP, repetition, seed, false);
        Question q;
        try {
            q = new Question(conv.query(), conv.history(), image, r.path("template").isTextual() ? r.get("template").asText() : null);
            vlm.input(q);
        } catch (IllegalArgumentException | ModelFormatException e) {
            throw ApiException.badRequest(e.getMessage(), "messages");
        }
        return new Job(q, opts, stops, stream, usage, conv);
    }

    private void completions(Context ctx) throws Exception {
        Job job = parse(ctx);
        String id = "chatcmpl-" + UUID.randomUUID().toString().replace("-", "");
        long created = System.currentTimeMillis() / 1000;
        long deadline = System.nanoTime() + config.requestTimeout().toNanos();
        AtomicBoolean cancelled = new AtomicBoolean();
        AtomicBoolean timedOut = new AtomicBoolean();
        StopFilter stop = new StopFilter(job.stops());
        BlockingQueue<Object> pieces = new LinkedBlockingQueue<>();
        Future<Answer> future;
        try {
            future = worker.submit(() -> {
                long t0 = System.nanoTime();
                try {
                    return vlm.ask(job.question(), job.options(), piece -> {
                        String shown = stop.push(piece);
                        if (stop.stopped()) {
                            cancelled.set(true);
                        }
                        if (!shown.isEmpty()) {
                            pieces.add(shown);
                        }
                    }, () -> {
                        if (System.nanoTime() > deadline) {
                            timedOut.set(true);
                        }
                        return cancelled.get() || timedOut.get();
                    });
                } finally {
                    lastSeconds = (System.nanoTime() - t0) / 1e9;
                }
            });
        } catch (RejectedExecutionException e) {
            int retry = (int) Math.max(1, Math.ceil(lastSeconds * (worker.getQueue().size() + 1)));
            ctx.header("Retry-After", Integer.toString(retry));
            throw new ApiException(429, "rate_limit_error", "the server is busy: " + worker.getQueue().size()
                    + " requests are queued; retry in about " + retry + " s", null, "queue_full");
        }
        if (job.stream()) {
            stream(ctx, job, id, created, future, pieces, stop, cancelled, timedOut, deadline);
        } else {
            Answer a = await(future, cancelled, deadline);
            if (timedOut.get()) {
                throw timeout();
            }
            String text = stop.stopped() ? collect(pieces) : collect(pieces) + stop.finish();
            ObjectNode o = JSON.createObjectNode();
            o.put("id", id).put("object", "chat.completion").put("created", created).put("model", modelId);
            ObjectNode choice = o.putArray("choices").addObject();
            choice.put("index", 0);
            ObjectNode msg = choice.putObject("message").put("role", "assistant").put("content", text);
            addGrounding(msg, text, job);
            choice.put("finish_reason", finishReason(a, stop));
            o.set("usage", usage(a));
            o.set("cogvlm4j", extras(job));
            ctx.contentType("application/json").result(o.toString());
        }
    }

    private Answer await(Future<Answer> future, AtomicBoolean cancelled, long deadline) throws Exception {
        try {
            return future.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            cancelled.set(true);
            future.cancel(false);
            throw timeout();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof IllegalArgumentException || c instanceof IllegalStateException || c instanceof ModelFormatException) {
                throw ApiException.badRequest(c.getMessage(), null);
            }
            throw new ApiException(500, "server_error", "generation failed: " + c, null, null);
        }
    }

    private ApiException timeout() {
        return new ApiException(504, "timeout", "the request took longer than the server's limit of "
                + config.requestTimeout().toMillis() / 1000.0 + " s", null, "timeout");
    }

    private static String collect(BlockingQueue<Object> pieces) {
        StringBuilder sb = new StringBuilder();
        for (Object p; (p = pieces.poll()) != null; ) {
            sb.append(p);
        }
        return sb.toString();
    }

    private void stream(Context ctx, Job job, String id, long created, Future<Answer> future, BlockingQueue<Object> pieces,
                        StopFilter stop, AtomicBoolean cancelled, AtomicBoolean timedOut, long deadline) throws Exception {
        ctx.status(200);
        ctx.res().setContentType("text/event-stream; charset=utf-8");
        ctx.res().setHeader("Cache-Control", "no-cache");
        ctx.res().setHeader("X-Accel-Buffering", "no");
        OutputStream out = ctx.res().getOutputStream();
        StringBuilder all = new StringBuilder();
        try {
            send(out, chunk(id, created, JSON.createObjectNode().put("role", "assistant").put("content", ""), null));
            while (true) {
                Object p = pieces.poll(50, TimeUnit.MILLISECONDS);
                if (p != null) {
                    all.append(p);
                    send(out, chunk(id, created, JSON.createObjectNode().put("content", (String) p), null));
                    continue;
                }
                if (future.isDone()) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    cancelled.set(true);
                }
            }
            Answer a;
            try {
                a = future.get();
            } catch (ExecutionException e) {
                ObjectNode err = JSON.createObjectNode();
                err.putObject("error").put("message", "generation failed: " + e.getCause().getMessage()).put("type", "server_error");
                send(out, err);
                sendDone(out);
                return;
            }
            if (timedOut.get()) {
                ObjectNode err = JSON.createObjectNode();
                err.putObject("error").put("message", timeout().getMessage()).put("type", "timeout");
                send(out, err);
            }
            String rest = collect(pieces) + stop.finish();
            if (!rest.isEmpty()) {
                all.append(rest);
                send(out, chunk(id, created, JSON.createObjectNode().put("content", rest), null));
            }
            ObjectNode last = chunk(id, created, JSON.createObjectNode(), finishReason(a, stop));
            ObjectNode delta = (ObjectNode) last.get("choices").get(0).get("delta");
            addGrounding(delta, all.toString(), job);
            last.set("cogvlm4j", extras(job));
            if (job.includeUsage()) {
                last.set("usage", usage(a));
            }
            send(out, last);
            sendDone(out);
        } catch (IOException e) {
            // The client went away: stop generating for it.
            cancelled.set(true);
        }
    }

    private ObjectNode chunk(String id, long created, ObjectNode delta, String finish) {
        ObjectNode o = JSON.createObjectNode();
        o.put("id", id).put("object", "chat.completion.chunk").put("created", created).put("model", modelId);
        ObjectNode c = o.putArray("choices").addObject();
        c.put("index", 0);
        c.set("delta", delta);
        if (finish != null) {
            c.put("finish_reason", finish);
        } else {
            c.putNull("finish_reason");
        }
        return o;
    }

    private static void send(OutputStream out, ObjectNode event) throws IOException {
        out.write(("data: " + event + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void sendDone(OutputStream out) throws IOException {
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private String finishReason(Answer a, StopFilter stop) {
        return stop.stopped() || a.stoppedAtEos() ? "stop" : "length";
    }

    private ObjectNode usage(Answer a) {
        ObjectNode u = JSON.createObjectNode();
        u.put("prompt_tokens", a.promptTokens());
        u.put("completion_tokens", a.ids().length);
        u.put("total_tokens", a.promptTokens() + a.ids().length);
        return u;
    }

    private ObjectNode extras(Job job) {
        ObjectNode x = JSON.createObjectNode();
        x.put("image_policy", "one image per conversation: the latest image sent is used; earlier turns stay as text history");
        x.put("images_received", job.conversation().imagesReceived());
        if (job.conversation().imageMessage() >= 0) {
            x.put("image_from_message", job.conversation().imageMessage());
        }
        return x;
    }

    private void addGrounding(ObjectNode msg, String text, Job job) {
        RgbImage img = job.question().image();
        if (img == null) {
            return;
        }
        List<Grounding.Box> boxes = Grounding.parse(text, img.width(), img.height());
        if (boxes.isEmpty()) {
            return;
        }
        ArrayNode arr = msg.putArray("grounding");
        for (Grounding.Box b : boxes) {
            ObjectNode o = arr.addObject();
            o.put("phrase", b.phrase());
            o.set("box_999", JSON.valueToTree(b.box999()));
            o.set("box_pixels", JSON.valueToTree(b.pixels()));
        }
    }

    private static int intField(JsonNode r, String name, int def, int min, int max) {
        JsonNode v = r.get(name);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
            throw ApiException.badRequest("'" + name + "' must be an integer in " + min + ".." + max, name);
        }
        return v.asInt();
    }

    private static long longField(JsonNode r, String name) {
        JsonNode v = r.get(name);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw ApiException.badRequest("'" + name + "' must be an integer", name);
        }
        return v.asLong();
    }

    private static double numField(JsonNode r, String name, double def, double min, double max) {
        JsonNode v = r.get(name);
        if (v == null || v.isNull()) {
            return def;
        }
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max) {
            throw ApiException.badRequest("'" + name + "' must be a number in " + min + ".." + max, name);
        }
        return v.asDouble();
    }

    private static boolean boolField(JsonNode r, String name) {
        JsonNode v = r.get(name);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw ApiException.badRequest("'" + name + "' must be true or false", name);
        }
        return v.asBoolean();
    }

    /** Stops the server and the generation thread. */
    @Override
    public void close() {
        app.stop();
        worker.shutdownNow();
    }
}
