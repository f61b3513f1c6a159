package dev.cogvlm4j.vision;

/**
 * A decoded 8-bit RGB image, row-major and interleaved, as {@code np.asarray(Image.open(f).convert('RGB'))}.
 *
 * @param width  pixels per row
 * @param height rows
 * @param rgb    {@code width·height·3} bytes
 */
public record RgbImage(int width, int height, byte[] rgb) {
    /** Checks the buffer size. */
    public RgbImage {
        if (width <= 0 || height <= 0 || rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException("RGB buffer of " + rgb.length + " bytes does not fit " + width + "x" + height);
        }
    }
}
