package dev.cogvlm4j.text;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Boxes in a grounding answer. The reference writes a box as {@code [[x0,y0,x1,y1]]} on a 0-999 scale of the image
 * (several boxes for one phrase separated by {@code ;} inside the brackets), right after the phrase it locates:
 * {@code "A man [[120,300,450,999]] and two dogs [[500,600,700,800;610,600,700,810]]."}.
 */
public final class Grounding {
    private static final Pattern GROUP = Pattern.compile("\\[\\[([0-9,;\\s\\[\\]]+?)\\]\\]");
    private static final Pattern BOX = Pattern.compile("(\\d{1,3})\\s*,\\s*(\\d{1,3})\\s*,\\s*(\\d{1,3})\\s*,\\s*(\\d{1,3})");
    private static final Pattern LEADING = Pattern.compile("^(?:and|with|,|;|:|-|\\s)+", Pattern.CASE_INSENSITIVE);

    /**
     * One located box.
     *
     * @param phrase  the words it is attached to (may be empty)
     * @param box999  {@code [x0, y0, x1, y1]} on the reference's 0-999 scale
     * @param pixels  the same box in pixels of the original image ({@code [x0, y0, x1, y1]}, exclusive ends)
     * @param start   offset of the box text in the answer
     * @param end     offset just after it
     */
    public record Box(String phrase, int[] box999, int[] pixels, int start, int end) {
    }

    private Grounding() {
    }

    /** Every box in {@code answer}, mapped to pixels of a {@code width × height} image. */
    public static List<Box> parse(String answer, int width, int height) {
        List<Box> out = new ArrayList<>();
        Matcher g = GROUP.matcher(answer);
        int prevEnd = 0;
        while (g.find()) {
            String phrase = phrase(answer.substring(prevEnd, g.start()));
            Matcher b = BOX.matcher(g.group(1));
            while (b.find()) {
                int[] v = new int[4];
                for (int i = 0; i < 4; i++) {
                    v[i] = Math.min(999, Integer.parseInt(b.group(i + 1)));
                }
                int[] px = {scale(v[0], width), scale(v[1], height), scale(v[2], width), scale(v[3], height)};
                out.add(new Box(phrase, v, px, g.start(), g.end()));
            }
            prevEnd = g.end();
        }
        return out;
    }

    /** The answer with box markup removed, as a caption to show under drawn boxes. */
    public static String strip(String answer) {
        return GROUP.matcher(answer).replaceAll("").replaceAll("\\s+([.,;:!?])", "$1").replaceAll("\\s{2,}", " ").strip();
    }

    private static int scale(int v, int size) {
        return (int) Math.round(v * (double) size / 1000.0);
    }

    private static String phrase(String before) {
        // The phrase runs back to the previous box or clause boundary.
        String s = before;
        int cut = Math.max(s.lastIndexOf('.'), Math.max(s.lastIndexOf('\n'), s.lastIndexOf(';')));
        if (cut >= 0 && cut < s.length() - 1) {
            s = s.substring(cut + 1);
        }
        return LEADING.matcher(s.strip()).replaceAll("").strip();
    }
}
