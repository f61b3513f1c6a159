package dev.cogvlm4j.model;

/**
 * An encoded image, ready to be placed in a sequence.
 *
 * @param visionOut  {@code [tokens, H]}: boi, the adapted patches, eoi
 * @param tokens     number of image slots it fills
 * @param crossOut   CogAgent's {@code [Gx², Cx]} high-resolution features, or null
 * @param crossTokens rows of {@code crossOut}
 */
public record ImageFeatures(float[] visionOut, int tokens, float[] crossOut, int crossTokens) {
}
