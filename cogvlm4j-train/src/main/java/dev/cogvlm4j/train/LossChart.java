package dev.cogvlm4j.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;

/** Draws loss curves (log-scale loss against step, stages one after another) into a PNG. */
public final class LossChart {
    /**
     * One curve.
     *
     * @param name   legend text
     * @param losses loss per step
     */
    public record Series(String name, List<Double> losses) {
    }

    private static final Color[] COLOURS = {new Color(31, 119, 180), new Color(214, 39, 40), new Color(44, 160, 44),
            new Color(148, 103, 189), new Color(255, 127, 14), new Color(140, 86, 75), new Color(227, 119, 194),
            new Color(23, 190, 207), new Color(188, 189, 34), new Color(127, 127, 127)};
    private static final int W = 900;
    private static final int H = 480;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 30;
    private static final int BOTTOM = 50;

    private LossChart() {
    }

    /** Writes the series end to end along the step axis, each in its own colour, with a smoothed line on top. */
    public static void write(List<Series> series, Path file) throws IOException {
        int total = series.stream().mapToInt(s -> s.losses().size()).sum();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (double v : s.losses()) {
                if (v > 0 && Double.isFinite(v)) {
                    lo = Math.min(lo, v);
                    hi = Math.max(hi, v);
                }
            }
        }
        if (!(lo < hi)) {
            lo = 0.01;
            hi = 10;
        }
        double logLo = Math.floor(Math.log10(lo));
        double logHi = Math.ceil(Math.log10(hi));
        if (logHi <= logLo) {
            logHi = logLo + 1;
        }
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int pw = W - LEFT - RIGHT;
        int ph = H - TOP - BOTTOM;
        g.setColor(new Color(225, 225, 225));
        for (double d = logLo; d <= logHi; d++) {
            int y = TOP + (int) Math.round(ph * (logHi - d) / (logHi - logLo));
            g.drawLine(LEFT, y, LEFT + pw, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(new java.math.BigDecimal(Math.pow(10, d)).round(new java.math.MathContext(1))
                    .stripTrailingZeros().toPlainString(), 8, y + 4);
            g.setColor(new Color(225, 225, 225));
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, pw, ph);
        g.drawString("step", LEFT + pw - 30, TOP + ph + 30);
        g.drawString("training loss (cross-entropy over the target tokens, log scale)", LEFT, 18);
        int offset = 0;
        for (int si = 0; si < series.size(); si++) {
            List<Double> l = series.get(si).losses();
            Color c = COLOURS[si % COLOURS.length];
            g.setColor(new Color(c.getRed(), c.getGreen(), c.getBlue(), 70));
            drawLine(g, l, offset, total, logLo, logHi, 1);
            g.setColor(c);
            g.setStroke(new BasicStroke(2f));
            drawLine(g, l, offset, total, logLo, logHi, Math.max(1, l.size() / 60));
            g.setStroke(new BasicStroke(1f));
            // Legend entries share the width below the plot (120 px each while they fit).
            int slot = Math.min(120, (W - LEFT - 10) / series.size());
            g.drawString(series.get(si).name(), LEFT + 10 + slot * si, H - 12);
            g.fillRect(LEFT + 10 + slot * si - 8, H - 20, 6, 6);
            offset += l.size();
            if (si + 1 < series.size()) {
                g.setColor(Color.GRAY);
                int x = LEFT + (int) ((long) pw * offset / Math.max(1, total));
                g.drawLine(x, TOP, x, TOP + ph);
            }
        }
        g.setColor(Color.DARK_GRAY);
        g.drawString("0", LEFT - 3, TOP + ph + 15);
        g.drawString(Integer.toString(total), LEFT + pw - 20, TOP + ph + 15);
        g.dispose();
        Files.createDirectories(file.toAbsolutePath().getParent());
        ImageIO.write(img, "png", file.toFile());
    }

    /** A polyline of the running mean over {@code window} steps. */
    private static void drawLine(Graphics2D g, List<Double> l, int offset, int total, double logLo, double logHi, int window) {
        int pw = W - LEFT - RIGHT;
        int ph = H - TOP - BOTTOM;
        int px = -1;
        int py = -1;
        double sum = 0;
        for (int i = 0; i < l.size(); i++) {
            sum += l.get(i);
            if (i >= window) {
                sum -= l.get(i - window);
            }
            double v = sum / Math.min(i + 1, window);
            if (!(v > 0) || !Double.isFinite(v)) {
                continue;
            }
            int x = LEFT + (int) ((long) pw * (offset + i) / Math.max(1, total - 1));
            double f = (logHi - Math.log10(v)) / (logHi - logLo);
            int y = TOP + (int) Math.round(ph * Math.max(0, Math.min(1, f)));
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            px = x;
            py = y;
        }
    }
}
