package dev.cogvlm4j;

/**
 * The model's reply.
 *
 * @param text            decoded as the reference demo decodes it, or null when no tokenizer is loaded
 * @param ids             the generated token ids (stop token excluded)
 * @param promptTokens    tokens in the prompt, image slots included
 * @param stoppedAtEos    true when an end-of-sequence token ended generation
 * @param visionSeconds   time spent in the vision tower(s)
 * @param prefillSeconds  time to run the prompt through the decoder
 * @param decodeSeconds   time spent generating
 * @param reusedTokens    prompt tokens whose keys and values came from an earlier question's cache
 */
public record Answer(String text, int[] ids, int promptTokens, boolean stoppedAtEos, double visionSeconds,
                     double prefillSeconds, double decodeSeconds, int reusedTokens) {
}
