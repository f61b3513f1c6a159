package dev.cogvlm4j.text;

import java.util.ArrayList;
import java.util.List;

/**
 * Chat messages (user and assistant, in order) folded into what the templates take: earlier question/answer turns
 * and the final question. Consecutive messages of one role are joined by a newline; a leading assistant message has
 * no question and is dropped. Used by the server and the LangChain4j adapter alike.
 */
public final class Dialogue {
    /** Who wrote a message. */
    public enum Role { USER, ASSISTANT }

    /**
     * The folded conversation.
     *
     * @param history earlier turns
     * @param query   the final question
     */
    public record Folded(List<Turn> history, String query) {
    }

    private final List<Role> roles = new ArrayList<>();
    private final List<StringBuilder> texts = new ArrayList<>();

    /** Appends a message. */
    public Dialogue add(Role role, String text) {
        if (!roles.isEmpty() && roles.get(roles.size() - 1) == role) {
            texts.get(texts.size() - 1).append('\n').append(text);
        } else {
            roles.add(role);
            texts.add(new StringBuilder(text));
        }
        return this;
    }

    /** Folds the messages; the last one must be the user's. */
    public Folded fold() {
        if (roles.isEmpty() || roles.get(roles.size() - 1) != Role.USER) {
            throw new IllegalArgumentException("the last message must come from the user");
        }
        List<Turn> history = new ArrayList<>();
        int start = roles.get(0) == Role.ASSISTANT ? 1 : 0;
        for (int i = start; i + 1 < roles.size(); i += 2) {
            history.add(new Turn(texts.get(i).toString(), texts.get(i + 1).toString()));
        }
        return new Folded(history, texts.get(texts.size() - 1).toString());
    }
}
