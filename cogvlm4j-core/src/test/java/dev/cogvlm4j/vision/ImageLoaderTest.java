package dev.cogvlm4j.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Decoding parity with Pillow 9.4's {@code Image.open(f).convert('RGB')} on every layout the loader claims,
 * and refusal of hostile files. The expected pixels were written by Pillow itself
 * ({@code tools/make_image_fixtures.py}).
 */
class ImageLoaderTest {
    private final ImageLoader loader = new ImageLoader();

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = ImageLoaderTest.class.getResourceAsStream("/images/" + name)) {
            assertTrue(in != null, "missing test resource " + name);
            return in.readAllBytes();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"jpeg_420.jpg", "jpeg_444.jpg", "jpeg_422.jpg", "jpeg_progressive_420.jpg",
            "jpeg_gray.jpg", "png_rgb.png", "png_rgba.png", "png_la.png", "png_palette.png",
            "png_palette_transparent.png", "png_gray1.png", "png_gray2.png", "png_gray4.png", "png_gray16.png",
            "png_rgb16.png", "png_rgba16.png", "png_la16.png", "gif_animated.gif", "bmp_rgb.bmp", "bmp_palette.bmp",
            "webp_lossless.webp"})
    void decodesLikePillow(String file) throws IOException {
        String stem = file.substring(0, file.lastIndexOf('.'));
        String[] dims = new String(resource(stem + ".txt"), StandardCharsets.US_ASCII).trim().split(" ");
        RgbImage img = loader.decode(resource(file), file);
        assertEquals(Integer.parseInt(dims[0]), img.width());
        assertEquals(Integer.parseInt(dims[1]), img.height());
        byte[] want = resource(stem + ".rgb");
        int bad = 0;
        int max = 0;
        for (int i = 0; i < want.length; i++) {
            int d = Math.abs((want[i] & 0xff) - (img.rgb()[i] & 0xff));
            if (d != 0) {
                bad++;
                max = Math.max(max, d);
            }
        }
        assertEquals(0, bad, file + ": " + bad + " of " + want.length + " samples differ, by up to " + max);
    }

    @Test
    void lossyWebpIsClose() throws IOException {
        // libwebp and the Java decoder convert YUV to RGB with different rounding; a few levels apart at most.
        RgbImage img = loader.decode(resource("webp_lossy.webp"), "webp_lossy.webp");
        byte[] want = resource("webp_lossy.rgb");
        double sum = 0;
        for (int i = 0; i < want.length; i++) {
            sum += Math.abs((want[i] & 0xff) - (img.rgb()[i] & 0xff));
        }
        assertTrue(sum / want.length < 3.0, "mean abs difference " + sum / want.length);
    }

    @Test
    void refusesDecompressionBombBeforeDecoding() throws IOException {
        byte[] bomb = resource("bomb_100000x100000.png");
        ImageFormatException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(ImageFormatException.class, () -> loader.decode(bomb, "bomb.png")));
        assertEquals("bomb.png: 100000x100000 pixels exceeds the limit of 50000000 pixels", e.getMessage());
    }

    @Test
    void refusesTruncatedAndCorruptFiles() throws IOException {
        byte[] png = resource("png_rgb.png");
        byte[] jpg = resource("jpeg_420.jpg");
        for (byte[] cut : new byte[][]{java.util.Arrays.copyOf(png, png.length / 2), java.util.Arrays.copyOf(png, 40),
                java.util.Arrays.copyOf(jpg, jpg.length / 2), java.util.Arrays.copyOf(jpg, 200)}) {
            ImageFormatException e = assertThrows(ImageFormatException.class, () -> loader.decode(cut, "cut"));
            assertTrue(e.getMessage().startsWith("cut: corrupt or truncated"), e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), "one line");
        }
        byte[] garbled = png.clone();
        for (int i = 60; i < garbled.length - 20; i += 7) {
            garbled[i] ^= 0x5a;
        }
        assertThrows(ImageFormatException.class, () -> loader.decode(garbled, "garbled.png"));
    }

    @Test
    void refusesNonImagesAndEmptyFiles() {
        ImageFormatException e = assertThrows(ImageFormatException.class,
                () -> loader.decode("hello".getBytes(StandardCharsets.UTF_8), "note.txt"));
        assertEquals("note.txt: not a supported image (PNG, JPEG, BMP, GIF or WebP)", e.getMessage());
        assertThrows(ImageFormatException.class, () -> loader.decode(new byte[0], "empty.png"));
    }

    @Test
    void resizeOfUpscaleAndDownscaleKeepsPillowArithmetic() {
        // A flat image must stay flat under any resize: weights are normalised before fixed-point rounding.
        byte[] rgb = new byte[7 * 5 * 3];
        java.util.Arrays.fill(rgb, (byte) 200);
        RgbImage flat = new RgbImage(7, 5, rgb);
        for (int s : new int[]{1, 3, 14, 33}) {
            RgbImage r = PilResize.bicubic(flat, s, s);
            for (byte b : r.rgb()) {
                assertEquals(200, b & 0xff);
            }
        }
        assertArrayEquals(rgb, PilResize.bicubic(flat, 7, 5).rgb());
    }
}
