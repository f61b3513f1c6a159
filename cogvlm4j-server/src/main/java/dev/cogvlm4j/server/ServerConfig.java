package dev.cogvlm4j.server;

import java.time.Duration;

/**
 * Limits and switches of the server.
 *
 * @param host               interface to bind
 * @param port               port (0 picks a free one)
 * @param queueSize          requests that may wait while one runs; beyond it clients get 429
 * @param maxBodyBytes       largest request body accepted
 * @param maxImagePixels     largest image accepted (checked from its header)
 * @param requestTimeout     time a request may take, queueing included
 * @param remoteImages       whether http(s) image URLs are fetched
 * @param remoteImageBytes   largest remote image fetched
 * @param remoteImageTimeout time allowed to fetch a remote image
 * @param defaultMaxTokens   max_tokens when a request gives none
 */
public record ServerConfig(String host, int port, int queueSize, long maxBodyBytes, long maxImagePixels,
                           Duration requestTimeout, boolean remoteImages, long remoteImageBytes,
                           Duration remoteImageTimeout, int defaultMaxTokens) {
    /** Loopback, port 8080, a queue of 8, 20 MB bodies, 50-megapixel images, 5-minute requests, no remote images. */
    public static ServerConfig defaults() {
        return new ServerConfig("127.0.0.1", 8080, 8, 20L << 20, 50_000_000L, Duration.ofMinutes(5), false,
                10L << 20, Duration.ofSeconds(10), 512);
    }

    /** A copy on another port. */
    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, queueSize, maxBodyBytes, maxImagePixels, requestTimeout, remoteImages,
                remoteImageBytes, remoteImageTimeout, defaultMaxTokens);
    }

    /** A copy with another queue size. */
    public ServerConfig withQueueSize(int q) {
        return new ServerConfig(host, port, q, maxBodyBytes, maxImagePixels, requestTimeout, remoteImages,
                remoteImageBytes, remoteImageTimeout, defaultMaxTokens);
    }
}
