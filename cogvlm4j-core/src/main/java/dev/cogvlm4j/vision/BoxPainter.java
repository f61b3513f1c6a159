package dev.cogvlm4j.vision;

import dev.cogvlm4j.text.Grounding;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Draws grounding boxes with their phrases over the original image. */
public final class BoxPainter {
    private static final Color[] COLORS = {new Color(230, 57, 70), new Color(29, 120, 220), new Color(40, 160, 70),
            new Color(240, 160, 20), new Color(150, 60, 180), new Color(20, 170, 170)};

    private BoxPainter() {
    }

    /** The image with each box outlined and labelled. */
    public static BufferedImage draw(RgbImage image, List<Grounding.Box> boxes) {
        BufferedImage out = new BufferedImage(image.width(), image.height(), BufferedImage.TYPE_INT_RGB);
        byte[] rgb = image.rgb();
        for (int y = 0; y < image.height(); y++) {
            for (int x = 0; x < image.width(); x++) {
                int o = (y * image.width() + x) * 3;
                out.setRGB(x, y, (rgb[o] & 0xff) << 16 | (rgb[o + 1] & 0xff) << 8 | (rgb[o + 2] & 0xff));
            }
        }
        Graphics2D g = out.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        int stroke = Math.max(2, Math.min(image.width(), image.height()) / 150);
        g.setStroke(new BasicStroke(stroke));
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, Math.max(11, Math.min(image.width(), image.height()) / 28)));
        FontMetrics fm = g.getFontMetrics();
        for (int i = 0; i < boxes.size(); i++) {
            Grounding.Box b = boxes.get(i);
            Color c = COLORS[i % COLORS.length];
            int[] p = b.pixels();
            g.setColor(c);
            g.drawRect(p[0], p[1], Math.max(1, p[2] - p[0]), Math.max(1, p[3] - p[1]));
            String label = b.phrase().isEmpty() ? "#" + (i + 1) : b.phrase();
            int w = fm.stringWidth(label) + 6;
            int h = fm.getHeight();
            int ty = p[1] - h >= 0 ? p[1] - h : p[1];
            g.fillRect(p[0], ty, w, h);
            g.setColor(Color.WHITE);
            g.drawString(label, p[0] + 3, ty + fm.getAscent());
        }
        g.dispose();
        return out;
    }

    /** Writes the drawn image as PNG. */
    public static void write(RgbImage image, List<Grounding.Box> boxes, Path png) throws IOException {
        if (!ImageIO.write(draw(image, boxes), "png", png.toFile())) {
            throw new IOException("no PNG writer available");
        }
    }
}
