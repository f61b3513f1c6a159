package dev.cogvlm4j.model;

/**
 * How to pick each next token. {@code temperature == 0} means greedy (argmax), as the reference demos decode.
 *
 * @param maxNewTokens      upper bound on generated tokens
 * @param temperature       softmax temperature; 0 for greedy
 * @param topK              keep only the k most likely tokens (0 = off)
 * @param topP              keep the smallest set of tokens whose probability reaches p (1 = off)
 * @param repetitionPenalty HF-style penalty on tokens already in the sequence (1 = off)
 * @param seed              random seed for sampling
 * @param ignoreEos         keep generating past end-of-sequence tokens
 */
public record GenerationOptions(int maxNewTokens, float temperature, int topK, float topP, float repetitionPenalty,
                                long seed, boolean ignoreEos) {

    /** Validates ranges. */
    public GenerationOptions {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("max new tokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature >= 0) || Float.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0) || Float.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition penalty must be a finite number > 0, got " + repetitionPenalty);
        }
    }

    /** The reference demos' decoding: greedy, up to 2048 new tokens, stop at end of sequence. */
    public static GenerationOptions defaults() {
        return new GenerationOptions(2048, 0f, 0, 1f, 1f, 42L, false);
    }

    /** Greedy decoding of exactly {@code n} tokens with no EOS stop, as the fixtures were generated. */
    public static GenerationOptions greedy(int n, boolean ignoreEos) {
        return new GenerationOptions(n, 0f, 0, 1f, 1f, 42L, ignoreEos);
    }

    /** A copy with another token budget. */
    public GenerationOptions withMaxNewTokens(int n) {
        return new GenerationOptions(n, temperature, topK, topP, repetitionPenalty, seed, ignoreEos);
    }

    /** True when tokens are chosen by argmax. */
    public boolean greedy() {
        return temperature == 0f;
    }
}
