package dev.cogvlm4j.text;

import java.util.Arrays;

/**
 * Turns generated ids into text pieces as they arrive. Each call re-decodes everything so far and emits only the
 * new, settled suffix: bytes of an unfinished UTF-8 character wait for the rest, and text that a later token could
 * still rewrite (Llama-3's clean-up of " ." and friends) waits until it cannot.
 */
public final class TextStream {
    private final Tokenizer tokenizer;
    private final boolean skipSpecial;
    private int[] ids = new int[64];
    private int n;
    private int emitted;
    private String emittedText = "";

    TextStream(Tokenizer tokenizer, boolean skipSpecial) {
        this.tokenizer = tokenizer;
        this.skipSpecial = skipSpecial;
    }

    /** Adds one id and returns the text that is now settled (possibly empty). */
    public String push(int id) {
        if (n == ids.length) {
            ids = Arrays.copyOf(ids, n * 2);
        }
        ids[n++] = id;
        String text = tokenizer.decode(ids, n, skipSpecial, true);
        int settled = text.length() - unsettledTail(text);
        return emitUpTo(text, settled);
    }

    /** Flushes whatever is left once generation has ended. */
    public String finish() {
        String text = tokenizer.decode(ids, n, skipSpecial, false);
        return emitUpTo(text, text.length());
    }

    /** Everything decoded so far, final form. */
    public String text() {
        return tokenizer.decode(ids, n, skipSpecial, false);
    }

    private String emitUpTo(String text, int end) {
        if (end <= emitted || !text.startsWith(emittedText)) {
            return "";
        }
        // Never split a surrogate pair.
        if (end < text.length() && Character.isHighSurrogate(text.charAt(end - 1))) {
            end--;
        }
        String piece = text.substring(emitted, end);
        emitted = end;
        emittedText = text.substring(0, end);
        return piece;
    }

    /** Characters at the end that a following token could still change. */
    private int unsettledTail(String text) {
        if (!(tokenizer instanceof ByteLevelBpeTokenizer bl) || !bl.cleansUpSpaces()) {
            return 0;
        }
        int space = text.lastIndexOf(' ');
        if (space < 0) {
            return 0;
        }
        String rest = text.substring(space + 1);
        for (String tail : ByteLevelBpeTokenizer.CLEANUP_TAILS) {
            if (tail.startsWith(rest)) {
                return text.length() - space;
            }
        }
        return 0;
    }
}
