package dev.cogvlm4j.model;

import java.util.Arrays;
import java.util.function.IntPredicate;

/** The decode loop: pick a token, feed it back through the KV cache, until a stop token or the budget. */
public final class Generator {
    /** Receives each token as soon as it is chosen; return false to stop generating. */
    @FunctionalInterface
    public interface TokenListener {
        /** Called with each new token id; returning false cancels the rest of the generation. */
        boolean onToken(int id);
    }

    private Generator() {
    }

    /**
     * Generates from a session that has just been prefilled with {@code prompt}, whose last-position logits are
     * {@code logits}. Stop tokens end generation and are not returned.
     */
    public static int[] generate(Session session, int[] prompt, float[] logits, GenerationOptions options,
                                 IntPredicate isStop, TokenListener listener) {
        Sampler sampler = new Sampler(options);
        int[] seen = Arrays.copyOf(prompt, prompt.length + options.maxNewTokens());
        int count = prompt.length;
        int[] out = new int[options.maxNewTokens()];
        int n = 0;
        float[] current = logits;
        while (n < options.maxNewTokens()) {
            int token = sampler.pick(current, seen, count);
            if (!options.ignoreEos() && isStop.test(token)) {
                break;
            }
            out[n++] = token;
            seen[count++] = token;
            if (listener != null && !listener.onToken(token)) {
                break;
            }
            if (n == options.maxNewTokens() || !session.hasRoom()) {
                break;
            }
            current = session.next(token);
        }
        return Arrays.copyOf(out, n);
    }
}
