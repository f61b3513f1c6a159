package dev.cogvlm4j.text;

/**
 * One earlier exchange of a conversation.
 *
 * @param question what the user asked
 * @param answer   what the model replied
 */
public record Turn(String question, String answer) {
    /** Rejects nulls. */
    public Turn {
        if (question == null || answer == null) {
            throw new IllegalArgumentException("a history turn needs both a question and an answer");
        }
    }
}
