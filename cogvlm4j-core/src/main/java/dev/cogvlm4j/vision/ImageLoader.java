package dev.cogvlm4j.vision;

import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DirectColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.event.IIOReadWarningListener;
import javax.imageio.stream.ImageInputStream;

/**
 * Decodes PNG, JPEG, BMP, GIF (first frame) and WebP into the pixels Pillow's {@code convert('RGB')} gives:
 * raw decoded values with no colour management, alpha dropped rather than composited, grey replicated, palettes
 * looked up. Dimensions are read from the header first, so a decompression bomb is refused before any pixel
 * buffer is allocated.
 */
public final class ImageLoader {
    /** Default limit on width × height (Pillow warns at 89 megapixels; real inputs are far smaller). */
    public static final long DEFAULT_MAX_PIXELS = 50_000_000L;
    /** Files above this size are refused before reading. */
    public static final long MAX_FILE_BYTES = 256L << 20;

    private final long maxPixels;

    /** A loader refusing images above {@code maxPixels}. */
    public ImageLoader(long maxPixels) {
        this.maxPixels = maxPixels;
    }

    /** A loader with {@link #DEFAULT_MAX_PIXELS}. */
    public ImageLoader() {
        this(DEFAULT_MAX_PIXELS);
    }

    /** Reads and decodes an image file. */
    public RgbImage load(Path file) {
        String name = file.getFileName() == null ? file.toString() : file.getFileName().toString();
        try {
            long size = Files.size(file);
            if (size > MAX_FILE_BYTES) {
                throw new ImageFormatException(name + ": " + size + " bytes is larger than the " + MAX_FILE_BYTES + "-byte limit");
            }
            return decode(Files.readAllBytes(file), name);
        } catch (NoSuchFileException e) {
            throw new ImageFormatException(name + ": no such file");
        } catch (IOException e) {
            throw new ImageFormatException(name + ": cannot read: " + e.getMessage());
        }
    }

    /** Decodes an encoded image held in memory; {@code name} is used in messages. */
    public RgbImage decode(byte[] data, String name) {
        String format = sniff(data);
        if (format == null) {
            throw new ImageFormatException(name + ": not a supported image (PNG, JPEG, BMP, GIF or WebP)");
        }
        if (format.equals("jpeg")) {
            data = JpegSegments.withoutIccProfile(data);
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(data))) {
            ImageReader reader = reader(format, in);
            if (reader == null) {
                throw new ImageFormatException(name + ": no decoder for " + format + " is installed");
            }
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                if (w <= 0 || h <= 0) {
                    throw new ImageFormatException(name + ": invalid dimensions " + w + "x" + h);
                }
                if ((long) w * h > maxPixels) {
                    throw new ImageFormatException(name + ": " + w + "x" + h + " pixels exceeds the limit of "
                            + maxPixels + " pixels");
                }
                List<String> warnings = new ArrayList<>();
                reader.addIIOReadWarningListener(new IIOReadWarningListener() {
                    @Override
                    public void warningOccurred(ImageReader source, String warning) {
                        warnings.add(warning);
                    }
                });
                BufferedImage img = reader.read(0);
                // The JDK's JPEG decoder pads a truncated file with grey and only warns; Pillow refuses it.
                for (String wmsg : warnings) {
                    String lower = wmsg.toLowerCase(java.util.Locale.ROOT);
                    if (lower.contains("premature end") || lower.contains("corrupt") || lower.contains("truncated")) {
                        throw new ImageFormatException(name + ": corrupt or truncated " + format + " (" + wmsg.trim() + ")");
                    }
                }
                return toRgb(img, name);
            } finally {
                reader.dispose();
            }
        } catch (ImageFormatException e) {
            throw e;
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new ImageFormatException(name + ": corrupt or truncated " + format + " (" + msg.lines().findFirst().orElse("") + ")");
        }
    }

    private static ImageReader reader(String format, ImageInputStream in) {
        Iterator<ImageReader> it = ImageIO.getImageReadersByFormatName(format);
        ImageReader fallback = null;
        while (it.hasNext()) {
            ImageReader r = it.next();
            // The JDK's JPEG reader is libjpeg 6b: integer IDCT and fancy upsampling, as Pillow's libjpeg-turbo.
            if (!format.equals("jpeg") || r.getClass().getName().startsWith("com.sun.")) {
                return r;
            }
            if (fallback == null) {
                fallback = r;
            }
        }
        return fallback;
    }

    /** Identifies the format from magic bytes. */
    static String sniff(byte[] d) {
        if (d.length >= 8 && (d[0] & 0xff) == 0x89 && d[1] == 'P' && d[2] == 'N' && d[3] == 'G') {
            return "png";
        }
        if (d.length >= 3 && (d[0] & 0xff) == 0xFF && (d[1] & 0xff) == 0xD8 && (d[2] & 0xff) == 0xFF) {
            return "jpeg";
        }
        if (d.length >= 6 && d[0] == 'G' && d[1] == 'I' && d[2] == 'F' && d[3] == '8') {
            return "gif";
        }
        if (d.length >= 2 && d[0] == 'B' && d[1] == 'M') {
            return "bmp";
        }
        if (d.length >= 12 && d[0] == 'R' && d[1] == 'I' && d[2] == 'F' && d[3] == 'F'
                && d[8] == 'W' && d[9] == 'E' && d[10] == 'B' && d[11] == 'P') {
            return "webp";
        }
        return null;
    }

    /** Pillow's {@code convert('RGB')} from whatever layout the decoder produced, reading raw samples. */
    static RgbImage toRgb(BufferedImage img, String name) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] out = new byte[w * h * 3];
        Raster r = img.getRaster();
        ColorModel cm = img.getColorModel();
        int bands = r.getNumBands();
        if (cm instanceof IndexColorModel icm) {
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                r.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    int o = (y * w + x) * 3;
                    out[o] = (byte) icm.getRed(row[x]);
                    out[o + 1] = (byte) icm.getGreen(row[x]);
                    out[o + 2] = (byte) icm.getBlue(row[x]);
                }
            }
        } else if (cm instanceof ComponentColorModel) {
            boolean sixteen = r.getTransferType() == DataBuffer.TYPE_USHORT;
            int colorBands = cm.getNumColorComponents();
            int[] px = new int[bands];
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    r.getPixel(x, y, px);
                    int o = (y * w + x) * 3;
                    if (colorBands == 1) {
                        // Pillow opens 16-bit grey as mode I and clips it to 0..255; with alpha it keeps the high byte.
                        int g = sixteen ? (bands == 1 ? Math.min(px[0], 255) : px[0] >> 8) : px[0];
                        out[o] = out[o + 1] = out[o + 2] = (byte) g;
                    } else if (colorBands == 3) {
                        for (int c = 0; c < 3; c++) {
                            out[o + c] = (byte) (sixteen ? px[c] >> 8 : px[c]);
                        }
                    } else {
                        throw new ImageFormatException(name + ": unsupported colour layout (" + colorBands + " colour components, e.g. CMYK)");
                    }
                }
            }
        } else if (cm instanceof DirectColorModel dcm) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    Object el = r.getDataElements(x, y, null);
                    int o = (y * w + x) * 3;
                    out[o] = (byte) dcm.getRed(el);
                    out[o + 1] = (byte) dcm.getGreen(el);
                    out[o + 2] = (byte) dcm.getBlue(el);
                }
            }
        } else {
            throw new ImageFormatException(name + ": unsupported pixel layout " + cm.getClass().getSimpleName());
        }
        return new RgbImage(w, h, out);
    }

    /** JPEG marker surgery. */
    static final class JpegSegments {
        private JpegSegments() {
        }

        /**
         * Drops APP2 {@code ICC_PROFILE} segments: the JDK decoder colour-converts through an embedded profile and
         * offers no switch to stop it, while Pillow returns the raw decoded values.
         */
        static byte[] withoutIccProfile(byte[] d) {
            ByteArrayOutputStream out = new ByteArrayOutputStream(d.length);
            out.write(d, 0, 2);
            int i = 2;
            while (i + 4 <= d.length) {
                if ((d[i] & 0xff) != 0xFF) {
                    break;
                }
                int marker = d[i + 1] & 0xff;
                if (marker == 0xDA || marker == 0xD9) {
                    break;
                }
                if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0xFF) {
                    out.write(d, i, marker == 0xFF ? 1 : 2);
                    i += marker == 0xFF ? 1 : 2;
                    continue;
                }
                int len = ((d[i + 2] & 0xff) << 8) | (d[i + 3] & 0xff);
                if (len < 2 || i + 2 + len > d.length) {
                    break;
                }
                boolean icc = marker == 0xE2 && len >= 14 && new String(d, i + 4, 11,
                        java.nio.charset.StandardCharsets.ISO_8859_1).equals("ICC_PROFILE");
                if (!icc) {
                    out.write(d, i, 2 + len);
                }
                i += 2 + len;
            }
            out.write(d, i, d.length - i);
            return out.toByteArray();
        }
    }
}
