package dev.cogvlm4j.vision;

/**
 * Pillow's antialiased bicubic resize for 8-bit images, reproduced in its own fixed-point arithmetic so the
 * resized pixels equal Pillow's exactly: separable, horizontal pass first into an 8-bit image, then vertical;
 * Keys cubic with a = −0.5, support widened by the downscale factor; weights normalised, then rounded to 22
 * fractional bits.
 */
public final class PilResize {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double SUPPORT = 2.0;

    private PilResize() {
    }

    /** The per-output-pixel source window and fixed-point weights of one axis. */
    private record Coefficients(int[] start, int[] count, int[] weights, int kernelSize) {
    }

    private static double cubic(double x) {
        final double a = -0.5;
        x = Math.abs(x);
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }

    private static Coefficients coefficients(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = SUPPORT * filterScale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[outSize];
        int[] count = new int[outSize];
        int[] weights = new int[outSize * ksize];
        double[] w = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.max((int) (center - support + 0.5), 0);
            int xmax = Math.min((int) (center + support + 0.5), inSize) - xmin;
            double total = 0;
            for (int x = 0; x < xmax; x++) {
                w[x] = cubic((x + xmin - center + 0.5) * ss);
                total += w[x];
            }
            for (int x = 0; x < xmax; x++) {
                double v = total != 0.0 ? w[x] / total : w[x];
                double scaled = v * (1 << PRECISION_BITS);
                weights[xx * ksize + x] = (int) (v < 0 ? scaled - 0.5 : scaled + 0.5);
            }
            start[xx] = xmin;
            count[xx] = xmax;
        }
        return new Coefficients(start, count, weights, ksize);
    }

    private static int clip8(long v) {
        if (v >= (1L << PRECISION_BITS << 8)) {
            return 255;
        }
        if (v <= 0) {
            return 0;
        }
        return (int) (v >> PRECISION_BITS);
    }

    /** Resizes to {@code outW×outH}, exactly as {@code Image.resize((outW, outH), Image.BICUBIC)}. */
    public static RgbImage bicubic(RgbImage in, int outW, int outH) {
        RgbImage img = in;
        if (outW != img.width()) {
            img = horizontal(img, outW);
        }
        if (outH != img.height()) {
            img = vertical(img, outH);
        }
        return img == in ? new RgbImage(in.width(), in.height(), in.rgb().clone()) : img;
    }

    private static RgbImage horizontal(RgbImage in, int outW) {
        Coefficients c = coefficients(in.width(), outW);
        int h = in.height();
        int inW = in.width();
        byte[] src = in.rgb();
        byte[] dst = new byte[outW * h * 3];
        for (int y = 0; y < h; y++) {
            int row = y * inW * 3;
            for (int x = 0; x < outW; x++) {
                int k0 = x * c.kernelSize();
                int xmin = c.start()[x];
                for (int ch = 0; ch < 3; ch++) {
                    long ss = 1L << (PRECISION_BITS - 1);
                    for (int i = 0; i < c.count()[x]; i++) {
                        ss += (long) (src[row + (xmin + i) * 3 + ch] & 0xff) * c.weights()[k0 + i];
                    }
                    dst[(y * outW + x) * 3 + ch] = (byte) clip8(ss);
                }
            }
        }
        return new RgbImage(outW, h, dst);
    }

    private static RgbImage vertical(RgbImage in, int outH) {
        Coefficients c = coefficients(in.height(), outH);
        int w = in.width();
        byte[] src = in.rgb();
        byte[] dst = new byte[w * outH * 3];
        for (int y = 0; y < outH; y++) {
            int k0 = y * c.kernelSize();
            int ymin = c.start()[y];
            for (int x = 0; x < w; x++) {
                for (int ch = 0; ch < 3; ch++) {
                    long ss = 1L << (PRECISION_BITS - 1);
                    for (int i = 0; i < c.count()[y]; i++) {
                        ss += (long) (src[((ymin + i) * w + x) * 3 + ch] & 0xff) * c.weights()[k0 + i];
                    }
                    dst[(y * w + x) * 3 + ch] = (byte) clip8(ss);
                }
            }
        }
        return new RgbImage(w, outH, dst);
    }
}
