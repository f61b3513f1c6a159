package dev.cogvlm4j.vision;

/**
 * The reference's torchvision pipeline: {@code Resize((S, S), BICUBIC)} (non-square images are squashed),
 * {@code ToTensor}, {@code Normalize} with the CLIP mean and standard deviation.
 */
public final class ImagePreprocessor {
    private static final float[] MEAN = {0.48145466f, 0.4578275f, 0.40821073f};
    private static final float[] STD = {0.26862954f, 0.26130258f, 0.27577711f};

    private ImagePreprocessor() {
    }

    /** Prepares the main input at {@code size} and, when {@code crossSize > 0}, CogAgent's high-resolution input. */
    public static PreparedImage prepare(RgbImage image, int size, int crossSize) {
        RgbImage resized = PilResize.bicubic(image, size, size);
        RgbImage crossResized = crossSize > 0 ? PilResize.bicubic(image, crossSize, crossSize) : null;
        return new PreparedImage(resized, normalize(resized), crossResized,
                crossResized != null ? normalize(crossResized) : null);
    }

    /**
     * {@code (u8 / 255 − mean) / std} in float32, in that order, channel-first; this reproduces torchvision's
     * tensors bit for bit.
     */
    public static float[] normalize(RgbImage img) {
        int w = img.width();
        int h = img.height();
        byte[] rgb = img.rgb();
        float[] out = new float[3 * w * h];
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < w * h; i++) {
                float v = (rgb[i * 3 + c] & 0xff) / 255f;
                out[c * w * h + i] = (v - MEAN[c]) / STD[c];
            }
        }
        return out;
    }
}
