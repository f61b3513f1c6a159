package dev.cogvlm4j.text;

import java.util.List;
import java.util.Locale;

/**
 * The reference's {@code _history_to_prompt} for each {@code template_version}. CogVLM and CogVLM2 share
 * base/chat/vqa; CogAgent has its own chat ({@code [INST]}), chat_old and vqa, where {@code <EOI>} is plain text.
 */
public enum PromptTemplate {
    /** The query alone; history ignored. */
    BASE("base"),
    /** {@code Question: q Answer: a\n … Question: query Answer:}. */
    CHAT("chat"),
    /** As chat with {@code Short answer:}. */
    VQA("vqa"),
    /** CogAgent's original chat: {@code <EOI>Question: q Answer: a\nQuestion: … Answer:}. */
    CHAT_OLD("chat_old");

    private final String id;

    PromptTemplate(String id) {
        this.id = id;
    }

    /** The {@code template_version} string. */
    public String id() {
        return id;
    }

    /** Parses a {@code template_version}; the error lists the valid names. */
    public static PromptTemplate of(String name, boolean cogAgent) {
        for (PromptTemplate t : values()) {
            if (t.id.equals(name.toLowerCase(Locale.ROOT))) {
                if (t == CHAT_OLD && !cogAgent) {
                    break;
                }
                return t;
            }
        }
        throw new IllegalArgumentException("unknown template '" + name + "'; use "
                + (cogAgent ? "base, chat, chat_old or vqa" : "base, chat or vqa"));
    }

    /** The prompt text for {@code query} after {@code history}, as the given family's reference writes it. */
    public String format(List<Turn> history, String query, boolean cogAgent) {
        StringBuilder p = new StringBuilder();
        if (cogAgent) {
            switch (this) {
                case BASE -> p.append(query);
                case CHAT -> {
                    p.append(" [INST] ");
                    for (Turn t : history) {
                        p.append(t.question()).append(" [/INST] ").append(t.answer()).append(" [INST] ");
                    }
                    p.append(query).append(" [/INST] ");
                }
                case CHAT_OLD -> {
                    p.append("<EOI>Question: ");
                    for (Turn t : history) {
                        p.append(t.question()).append(" Answer: ").append(t.answer()).append("\nQuestion: ");
                    }
                    p.append(query).append(" Answer:");
                }
                // The reference supports one round only in vqa mode: history is dropped.
                case VQA -> p.append("<EOI>Question: ").append(query).append(" Short answer:");
                default -> throw new IllegalStateException();
            }
            return p.toString();
        }
        if (this == BASE) {
            return query;
        }
        String answerFormat = this == VQA ? "Short answer:" : "Answer:";
        for (Turn t : history) {
            p.append("Question: ").append(t.question()).append(' ').append(answerFormat).append(' ')
                    .append(t.answer()).append('\n');
        }
        p.append("Question: ").append(query).append(' ').append(answerFormat);
        return p.toString();
    }
}
