package dev.cogvlm4j.model;

/** The three model families, which differ in tokenizer, vision geometry and decoder details. */
public enum Family {
    /** CogVLM-17B (chat, base, grounding): Vicuna-7B decoder, EVA2-CLIP-E at 224 or 490 px. */
    COGVLM("CogVLM"),
    /** CogAgent-18B: CogVLM plus a 1120 px EVA2-CLIP-L tower read through cross-attention in every layer. */
    COGAGENT("CogAgent"),
    /** CogVLM2-19B: Llama-3-8B decoder with GQA, 1344 px tower with a 2x2 convolution downsampler. */
    COGVLM2("CogVLM2");

    private final String displayName;

    Family(String displayName) {
        this.displayName = displayName;
    }

    /** Human-readable family name. */
    public String displayName() {
        return displayName;
    }
}
