package dev.cogvlm4j.train.data;

import dev.cogvlm4j.train.world.Shape;
import dev.cogvlm4j.train.world.ShapesWorld;
import java.util.List;

/**
 * A scene written straight into the image slots: for every patch of the tower's grid, one row of named facts
 * about the object covering it, as a one-hot code the language model can learn to read during its own
 * pretraining, and the adapter can later learn to write from pixels.
 *
 * <p>Why: every image row shares one position id, so a frozen language model that learned to copy a box from words
 * (digit after digit, each found by its place in the text) has nothing to copy from in an image. Rows that each
 * carry a whole object (its colour, kind, and the digits of its box), read by content rather than by position, are
 * a medium the language model can learn to read <i>before</i> any image exists; the visual experts start from the
 * language weights (the paper's initialisation), so once the adapter writes these rows the frozen model reads the
 * image as it read them.
 *
 * <p>Row layout (the first {@link #WIDTH} of the hidden size; the rest stay zero):
 * <ul>
 *   <li>{@code [0, 6)} the object's colour, {@code [6, 9)} its kind, {@code [9, 27)} the two together (colour × 3 +
 *       kind): a question naming one (the circle's colour) can match the first two, one naming both (where is the
 *       green square) a single value;</li>
 *   <li>{@code [27, 107)} its box: for each coordinate {@code x0, y0, x1, y1} on the answers' 0-999 scale, its first
 *       digit then its second as ten-way one-hots (the third digit is below the tower's resolution and left out);</li>
 *   <li>{@code [107, 111)} the object's rank left to right (box centre, the captions' order);</li>
 *   <li>{@code [111, 115)} how many shapes the scene holds (1 to 4), {@code [115, 127)} per kind, how many of that
 *       kind (1 to 4; none set for none), both the same on every row;</li>
 *   <li>{@code 127} set on rows that show no object (only the scene-wide counts besides).</li>
 * </ul>
 * The boi and eoi rows are zero, as in blank image slots.
 */
public final class SceneSlots {
    static final int KINDS = Shape.Kind.values().length;
    static final int COLOUR = 0;
    static final int KIND = COLOUR + Shape.Colour.values().length;
    static final int PAIR = KIND + KINDS;
    static final int DIGITS = PAIR + Shape.Colour.values().length * KINDS;
    static final int RANK = DIGITS + 4 * 2 * 10;
    static final int COUNT = RANK + ShapesWorld.MAX_SHAPES;
    static final int KIND_COUNTS = COUNT + ShapesWorld.MAX_SHAPES;
    static final int BACKGROUND = KIND_COUNTS + KINDS * ShapesWorld.MAX_SHAPES;
    /** Width of the code; the language model's hidden size must be at least this. */
    public static final int WIDTH = BACKGROUND + 1;

    private SceneSlots() {
    }

    /**
     * The image slots' rows {@code [boi; patches; eoi]}, each {@code hidden} wide, for a tower grid of
     * {@code grid × grid} patches. A patch's object is the one covering most of it ({@link EpisodeFactory#covering}).
     */
    public static float[] rows(ShapesWorld.Scene scene, int grid, int hidden) {
        if (hidden < WIDTH) {
            throw new IllegalArgumentException("scene slots need a hidden size of at least " + WIDTH + ", not " + hidden);
        }
        Shape[] cover = EpisodeFactory.covering(scene, grid);
        List<Shape> order = scene.leftToRight();
        int n = scene.shapes().size();
        int[] perKind = new int[KINDS];
        for (Shape s : scene.shapes()) {
            perKind[s.kind().ordinal()]++;
        }
        float[] out = new float[(cover.length + 2) * hidden];
        for (int i = 0; i < cover.length; i++) {
            int at = (i + 1) * hidden;
            out[at + COUNT + n - 1] = 1;
            for (int k = 0; k < perKind.length; k++) {
                if (perKind[k] > 0) {
                    out[at + KIND_COUNTS + k * ShapesWorld.MAX_SHAPES + perKind[k] - 1] = 1;
                }
            }
            Shape s = cover[i];
            if (s == null) {
                out[at + BACKGROUND] = 1;
                continue;
            }
            out[at + COLOUR + s.colour().ordinal()] = 1;
            out[at + KIND + s.kind().ordinal()] = 1;
            out[at + PAIR + s.colour().ordinal() * KINDS + s.kind().ordinal()] = 1;
            int[] box = s.box999Values();
            for (int c = 0; c < 4; c++) {
                out[at + DIGITS + 20 * c + box[c] / 100] = 1;
                out[at + DIGITS + 20 * c + 10 + box[c] / 10 % 10] = 1;
            }
            out[at + RANK + order.indexOf(s)] = 1;
        }
        return out;
    }
}
