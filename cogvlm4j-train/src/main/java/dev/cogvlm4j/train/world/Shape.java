package dev.cogvlm4j.train.world;

/**
 * One object of the shapes world: a kind, a colour name with its jittered RGB, and an axis-aligned box
 * {@code [x0, x1) × [y0, y1)} in pixels of the 224×224 canvas.
 *
 * @param kind   circle, square or triangle
 * @param colour the colour's name
 * @param rgb    the drawn colour after jitter
 * @param x0     left edge (inclusive)
 * @param y0     top edge (inclusive)
 * @param x1     right edge (exclusive)
 * @param y1     bottom edge (exclusive)
 */
public record Shape(Kind kind, Colour colour, int[] rgb, int x0, int y0, int x1, int y1) {
    /** The three shapes. */
    public enum Kind {
        CIRCLE, SQUARE, TRIANGLE;

        /** The word used in questions and answers. */
        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** The six colours and their base RGB before jitter. */
    public enum Colour {
        RED(220, 40, 40), GREEN(40, 160, 60), BLUE(40, 80, 220), YELLOW(240, 200, 40), PURPLE(140, 60, 170),
        ORANGE(245, 130, 30);

        final int r;
        final int g;
        final int b;

        Colour(int r, int g, int b) {
            this.r = r;
            this.g = g;
            this.b = b;
        }

        /** The word used in questions and answers. */
        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Horizontal centre of the box, for left-to-right ordering. */
    public double centreX() {
        return (x0 + x1) / 2.0;
    }

    /** The box on the reference's 0-999 scale: {@code [[x0,y0,x1,y1]]}, three digits each. */
    public String box999() {
        return String.format(java.util.Locale.ROOT, "[[%03d,%03d,%03d,%03d]]", scale(x0), scale(y0), scale(x1), scale(y1));
    }

    /** The box's four values on the 0-999 scale, in the answer's order {@code x0, y0, x1, y1}. */
    public int[] box999Values() {
        return new int[]{scale(x0), scale(y0), scale(x1), scale(y1)};
    }

    /** {@code coordinate × 1000 / 224}, floored, capped at 999. */
    static int scale(int c) {
        return Math.min(999, c * 1000 / ShapesWorld.SIZE);
    }

    /** "red circle". */
    public String name() {
        return colour.word() + " " + kind.word();
    }
}
