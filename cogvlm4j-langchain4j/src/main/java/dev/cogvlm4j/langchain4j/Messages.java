package dev.cogvlm4j.langchain4j;

import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.model.GenerationOptions;
import dev.cogvlm4j.text.Dialogue;
import dev.cogvlm4j.vision.RgbImage;
import dev.langchain4j.data.image.Image;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import java.net.URI;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;

/**
 * LangChain4j messages to a cogvlm4j question, with the server's policy: one image per conversation (the latest one
 * sent), user/AI pairs as history, system messages ignored (CogVLM has no system prompt).
 */
final class Messages {
    private Messages() {
    }

    static Question question(CogVlm vlm, List<ChatMessage> messages) {
        Dialogue dialogue = new Dialogue();
        RgbImage image = null;
        for (ChatMessage m : messages) {
            if (m instanceof UserMessage u) {
                StringBuilder text = new StringBuilder();
                for (Content c : u.contents()) {
                    if (c instanceof TextContent t) {
                        if (!text.isEmpty()) {
                            text.append('\n');
                        }
                        text.append(t.text());
                    } else if (c instanceof ImageContent i) {
                        image = decode(vlm, i.image());
                    } else {
                        throw new IllegalArgumentException("cogvlm4j takes text and image content, not " + c.type());
                    }
                }
                dialogue.add(Dialogue.Role.USER, text.toString());
            } else if (m instanceof AiMessage a) {
                dialogue.add(Dialogue.Role.ASSISTANT, a.text() == null ? "" : a.text());
            }
        }
        Dialogue.Folded folded = dialogue.fold();
        return new Question(folded.query(), folded.history(), image, null);
    }

    private static RgbImage decode(CogVlm vlm, Image img) {
        if (img.base64Data() != null) {
            return vlm.decodeImage(Base64.getMimeDecoder().decode(img.base64Data()), "image");
        }
        URI url = img.url();
        if (url == null) {
            throw new IllegalArgumentException("image content has neither data nor a URL");
        }
        String s = url.toString();
        if (s.startsWith("data:")) {
            int comma = s.indexOf(',');
            return vlm.decodeImage(Base64.getMimeDecoder().decode(s.substring(comma + 1)), "image");
        }
        if ("file".equals(url.getScheme())) {
            return vlm.loadImage(Path.of(url));
        }
        throw new IllegalArgumentException("only inline (base64), data: and file: images are read; fetch " + s + " yourself");
    }

    /** Request parameters over the model's defaults. */
    static GenerationOptions options(ChatRequest r, GenerationOptions d) {
        return new GenerationOptions(r.maxOutputTokens() != null ? r.maxOutputTokens() : d.maxNewTokens(),
                r.temperature() != null ? r.temperature().floatValue() : d.temperature(),
                r.topK() != null ? r.topK() : d.topK(), r.topP() != null ? r.topP().floatValue() : d.topP(),
                d.repetitionPenalty(), d.seed(), false);
    }
}
