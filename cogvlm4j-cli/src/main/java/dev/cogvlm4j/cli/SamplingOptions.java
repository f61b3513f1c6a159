package dev.cogvlm4j.cli;

import dev.cogvlm4j.model.GenerationOptions;
import picocli.CommandLine.Option;

/** Decoding settings; the defaults are the reference demos' (greedy). */
final class SamplingOptions {
    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "2048",
            description = "Stop after N new tokens (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0",
            description = "Sampling temperature; 0 decodes greedily (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "0", description = "Sample from the K most likely tokens (0: off).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "1", description = "Nucleus sampling mass (1: off).")
    float topP;

    @Option(names = "--repetition-penalty", paramLabel = "R", defaultValue = "1",
            description = "Penalty for tokens already present (1: off).")
    float repetitionPenalty;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--greedy", description = "Argmax decoding (same as --temperature 0).")
    boolean greedy;

    @Option(names = "--ignore-eos", description = "Keep generating past end-of-sequence tokens.")
    boolean ignoreEos;

    GenerationOptions options() {
        return new GenerationOptions(maxNewTokens, greedy ? 0f : temperature, topK, topP, repetitionPenalty, seed,
                ignoreEos);
    }
}
