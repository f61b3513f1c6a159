package dev.cogvlm4j.vision;

/** Unfolds images and token grids into rows, so that a strided convolution becomes one matrix multiply. */
final class Patches {
    private Patches() {
    }

    /**
     * Unfolds a {@code [C, S, S]} image into {@code [G², C·p·p]} rows in raster order of patches, each row ordered
     * (channel, ky, kx) like a flattened {@code Conv2d} kernel {@code [out, C, p, p]}.
     */
    static float[] unfoldImage(float[] pixels, int channels, int size, int patch) {
        int g = size / patch;
        int rowLen = channels * patch * patch;
        float[] out = new float[g * g * rowLen];
        for (int gy = 0; gy < g; gy++) {
            for (int gx = 0; gx < g; gx++) {
                int o = (gy * g + gx) * rowLen;
                for (int c = 0; c < channels; c++) {
                    for (int ky = 0; ky < patch; ky++) {
                        int src = c * size * size + (gy * patch + ky) * size + gx * patch;
                        System.arraycopy(pixels, src, out, o + (c * patch + ky) * patch, patch);
                    }
                }
            }
        }
        return out;
    }

    /**
     * Unfolds a {@code [G·G, W]} token grid (raster order) into non-overlapping 2×2 blocks: {@code [(G/2)², W·4]},
     * each row ordered (channel, ky, kx) to match a {@code Conv2d(W, W, 2, 2)} kernel.
     */
    static float[] unfoldGrid2x2(float[] tokens, int grid, int width) {
        int h = grid / 2;
        float[] out = new float[h * h * width * 4];
        for (int oy = 0; oy < h; oy++) {
            for (int ox = 0; ox < h; ox++) {
                int o = (oy * h + ox) * width * 4;
                for (int ky = 0; ky < 2; ky++) {
                    for (int kx = 0; kx < 2; kx++) {
                        int src = ((2 * oy + ky) * grid + 2 * ox + kx) * width;
                        for (int c = 0; c < width; c++) {
                            out[o + c * 4 + ky * 2 + kx] = tokens[src + c];
                        }
                    }
                }
            }
        }
        return out;
    }
}
