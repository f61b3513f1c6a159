package dev.cogvlm4j.server;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/** Resolves image URLs: data URIs always; http(s) only when the operator enabled it, with size and time limits. */
final class ImageFetcher {
    private final ServerConfig config;
    private final HttpClient http;

    ImageFetcher(ServerConfig config) {
        this.config = config;
        this.http = config.remoteImages()
                ? HttpClient.newBuilder().connectTimeout(config.remoteImageTimeout()).followRedirects(HttpClient.Redirect.NORMAL).build()
                : null;
    }

    byte[] fetch(String url) {
        if (url.startsWith("data:")) {
            return Conversation.dataUri(url);
        }
        if (!url.startsWith("http://") && !url.startsWith("https://")) {
            throw ApiException.badRequest("image_url must be a data: URI or an http(s) URL", "image_url");
        }
        if (http == null) {
            throw ApiException.badRequest("remote image URLs are disabled on this server (start it with --allow-remote-images); "
                    + "send the image as a data: URI", "image_url");
        }
        try {
            HttpRequest req = HttpRequest.newBuilder(URI.create(url)).timeout(config.remoteImageTimeout()).GET().build();
            HttpResponse<InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
            if (res.statusCode() != 200) {
                throw ApiException.badRequest("fetching the image failed with HTTP " + res.statusCode(), "image_url");
            }
            try (InputStream in = res.body()) {
                byte[] b = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, config.remoteImageBytes() + 1));
                if (b.length > config.remoteImageBytes()) {
                    throw ApiException.badRequest("the remote image is larger than " + config.remoteImageBytes() + " bytes", "image_url");
                }
                return b;
            }
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("invalid image URL: " + e.getMessage(), "image_url");
        } catch (IOException e) {
            throw ApiException.badRequest("fetching the image failed: " + e.getMessage(), "image_url");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw ApiException.badRequest("fetching the image was interrupted", "image_url");
        }
    }
}
