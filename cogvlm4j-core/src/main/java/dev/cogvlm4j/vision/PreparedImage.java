package dev.cogvlm4j.vision;

/**
 * An image resized and normalised for the tower(s).
 *
 * @param resized          the {@code S×S} RGB image after PIL's bicubic resize
 * @param pixelValues      {@code [3, S, S]} after CLIP normalisation
 * @param crossResized     CogAgent's {@code Sx×Sx} image, or null
 * @param crossPixelValues CogAgent's {@code [3, Sx, Sx]} input, or null
 */
public record PreparedImage(RgbImage resized, float[] pixelValues, RgbImage crossResized, float[] crossPixelValues) {
}
