package dev.cogvlm4j.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cogvlm4j.text.Dialogue;
import dev.cogvlm4j.text.Turn;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * An OpenAI {@code messages} list turned into what CogVLM can take: one image per conversation (the latest one
 * sent; earlier turns stay as text history), alternating question/answer turns, and the final question.
 */
record Conversation(List<Turn> history, String query, byte[] image, String imageSource, int imagesReceived,
                    int imageMessage) {

    /** Image bytes and where they came from, before decoding. */
    record ImageRef(String url, int message) {
    }

    static Conversation parse(JsonNode messages, ImageFetcher fetcher) {
        if (messages == null || !messages.isArray()) {
            throw ApiException.badRequest("'messages' must be a list of messages", "messages");
        }
        if (messages.isEmpty()) {
            throw ApiException.badRequest("'messages' is empty: give at least one user message", "messages");
        }
        List<String> roles = new ArrayList<>();
        List<String> texts = new ArrayList<>();
        List<ImageRef> images = new ArrayList<>();
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String where = "messages[" + i + "]";
            if (!m.isObject() || !m.path("role").isTextual()) {
                throw ApiException.badRequest(where + " needs a string 'role'", where + ".role");
            }
            String role = m.get("role").asText();
            if (!role.equals("user") && !role.equals("assistant") && !role.equals("system")) {
                throw ApiException.badRequest(where + ".role '" + role + "' is not user, assistant or system", where + ".role");
            }
            JsonNode content = m.get("content");
            StringBuilder text = new StringBuilder();
            if (content == null || content.isNull()) {
                throw ApiException.badRequest(where + " has no 'content'", where + ".content");
            } else if (content.isTextual()) {
                text.append(content.asText());
            } else if (content.isArray()) {
                for (int p = 0; p < content.size(); p++) {
                    JsonNode part = content.get(p);
                    String pw = where + ".content[" + p + "]";
                    String type = part.path("type").asText("");
                    switch (type) {
                        case "text" -> {
                            if (!part.path("text").isTextual()) {
                                throw ApiException.badRequest(pw + " needs a string 'text'", pw + ".text");
                            }
                            if (!text.isEmpty()) {
                                text.append('\n');
                            }
                            text.append(part.get("text").asText());
                        }
                        case "image_url" -> {
                            JsonNode url = part.path("image_url");
                            String u = url.isTextual() ? url.asText() : url.path("url").asText(null);
                            if (u == null || u.isEmpty()) {
                                throw ApiException.badRequest(pw + " needs image_url.url", pw + ".image_url");
                            }
                            if (!role.equals("user")) {
                                throw ApiException.badRequest(pw + ": only user messages may carry images", pw);
                            }
                            images.add(new ImageRef(u, i));
                        }
                        default -> throw ApiException.badRequest(pw + " has type '" + type + "'; use 'text' or 'image_url'", pw + ".type");
                    }
                }
            } else {
                throw ApiException.badRequest(where + ".content must be a string or a list of parts", where + ".content");
            }
            if (role.equals("system")) {
                continue;
            }
            roles.add(role);
            texts.add(text.toString());
        }
        Dialogue dialogue = new Dialogue();
        for (int i = 0; i < roles.size(); i++) {
            dialogue.add(roles.get(i).equals("user") ? Dialogue.Role.USER : Dialogue.Role.ASSISTANT, texts.get(i));
        }
        Dialogue.Folded folded;
        try {
            folded = dialogue.fold();
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), "messages");
        }
        List<Turn> history = folded.history();
        String query = folded.query();
        if (query.isBlank()) {
            throw ApiException.badRequest("the last user message has no text", "messages");
        }
        byte[] image = null;
        String source = null;
        int imageMessage = -1;
        if (!images.isEmpty()) {
            ImageRef latest = images.get(images.size() - 1);
            image = fetcher.fetch(latest.url());
            source = latest.url().startsWith("data:") ? "data-uri" : latest.url();
            imageMessage = latest.message();
        }
        return new Conversation(history, query, image, source, images.size(), imageMessage);
    }

    /** Decodes a {@code data:image/...;base64,} URI. */
    static byte[] dataUri(String url) {
        int comma = url.indexOf(',');
        if (comma < 0 || !url.substring(0, comma).endsWith(";base64")) {
            throw ApiException.badRequest("image data URIs must be base64 (data:image/png;base64,...)", "image_url");
        }
        String mime = url.substring(5, comma - 7);
        if (!mime.startsWith("image/")) {
            throw ApiException.badRequest("the data URI holds '" + mime + "', not an image", "image_url");
        }
        try {
            return Base64.getMimeDecoder().decode(url.substring(comma + 1));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("the image data URI is not valid base64", "image_url");
        }
    }
}
