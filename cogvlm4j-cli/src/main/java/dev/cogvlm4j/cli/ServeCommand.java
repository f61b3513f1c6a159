package dev.cogvlm4j.cli;

import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.server.ChatServer;
import dev.cogvlm4j.server.ServerConfig;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Serves the model over the OpenAI chat API, with a web chat page at /. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve the model over the OpenAI chat API, with a web chat page.",
                "POST /v1/chat/completions (streaming with \"stream\": true), GET /v1/models, GET /health, and the",
                "chat page at /."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Interface to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8080", description = "Port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port;

    @Option(names = "--queue", defaultValue = "8", description = "Requests that may wait while one runs; more get 429 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--max-body-bytes", defaultValue = "20971520", description = "Largest request body (default: ${DEFAULT-VALUE}).")
    long maxBody;

    @Option(names = "--timeout-seconds", defaultValue = "300", description = "Time a request may take, queueing included (default: ${DEFAULT-VALUE}).")
    long timeout;

    @Option(names = "--max-tokens", defaultValue = "512", description = "max_tokens when a request gives none (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--allow-remote-images", description = "Fetch http(s) image URLs (off: only data: URIs).")
    boolean remote;

    @Option(names = "--remote-image-bytes", defaultValue = "10485760", description = "Largest remote image (default: ${DEFAULT-VALUE}).")
    long remoteBytes;

    @Option(names = "--name", description = "Model id reported by /v1/models (default: the model folder's name).")
    String name;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535 || queue < 1 || maxBody < 1024 || timeout < 1 || maxTokens < 1) {
            throw new Main.UserException("invalid limits: --port 0..65535, --queue >= 1, --max-body-bytes >= 1024, --timeout-seconds >= 1");
        }
        ServerConfig cfg = new ServerConfig(host, port, queue, maxBody, model.maxImagePixels, Duration.ofSeconds(timeout),
                remote, remoteBytes, Duration.ofSeconds(10), maxTokens);
        CogVlm vlm = model.load();
        vlm.requireTokenizer();
        String id = name != null ? name : model.modelDir().getFileName().toString().replaceFirst("\\.gguf$", "");
        ChatServer server = new ChatServer(vlm, id, cfg);
        PrintWriter out = spec.commandLine().getOut();
        out.printf("serving %s (%s) on http://%s:%d/  (OpenAI API at /v1/chat/completions)%n", id,
                vlm.config().family().displayName(), host, server.port());
        out.flush();
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            vlm.close();
            stop.countDown();
        }));
        stop.await();
        return 0;
    }
}
