package dev.cogvlm4j;

import dev.cogvlm4j.text.Turn;
import dev.cogvlm4j.vision.RgbImage;
import java.util.List;

/**
 * A question for the model.
 *
 * @param prompt   the user's text (must not be blank)
 * @param history  earlier turns, oldest first
 * @param image    the image the conversation is about, or null for a text-only conversation
 * @param template a {@code template_version} (base, chat, vqa, chat_old) or null for the model's default
 */
public record Question(String prompt, List<Turn> history, RgbImage image, String template) {
    /** Validates the prompt and copies the history. */
    public Question {
        if (prompt == null || prompt.isBlank()) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        history = history == null ? List.of() : List.copyOf(history);
    }

    /** A single question about an image with the default template. */
    public static Question of(String prompt, RgbImage image) {
        return new Question(prompt, List.of(), image, null);
    }
}
