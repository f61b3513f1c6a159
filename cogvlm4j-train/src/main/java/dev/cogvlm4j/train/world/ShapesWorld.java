package dev.cogvlm4j.train.world;

import dev.cogvlm4j.vision.RgbImage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The fixed synthetic visual world of the training recipe: 224×224 scenes of one to four shapes on a plain
 * background, the questions asked about them and their exact answers. Everything derives from a seed, so anyone
 * can regenerate the same images and answers.
 */
public final class ShapesWorld {
    /** Canvas side in pixels. */
    public static final int SIZE = 224;
    /** Smallest and largest box side. */
    static final int MIN_SIDE = 28;
    static final int MAX_SIDE = 64;
    /** Minimum gap between boxes. */
    static final int GAP = 4;
    /** The most shapes a scene holds. */
    public static final int MAX_SHAPES = 4;
    /** Per-channel colour jitter. */
    static final int JITTER = 15;
    private static final int[][] BACKGROUNDS = {{255, 255, 255}, {230, 230, 230}, {245, 240, 220}};

    /**
     * A generated scene.
     *
     * @param background the background RGB
     * @param shapes     the shapes, in generation order
     */
    public record Scene(int[] background, List<Shape> shapes) {
        /** Shapes ordered left to right by box centre, as captions list them. */
        public List<Shape> leftToRight() {
            List<Shape> s = new ArrayList<>(shapes);
            s.sort(Comparator.comparingDouble(Shape::centreX));
            return s;
        }
    }

    /**
     * A question with its one exact answer.
     *
     * @param question the question text (goes into the chat template)
     * @param answer   the answer text, as the model must produce it
     * @param type     caption, count, colour, shape, grounding or caption_boxes
     */
    public record QA(String question, String answer, String type) {
    }

    private ShapesWorld() {
    }

    /** A scene drawn from {@code random}: 1-4 shapes that fit the canvas and keep their distance. */
    public static Scene scene(SplittableRandom random) {
        return scene(random, 4);
    }

    /**
     * A scene of 1 to {@code maxShapes} shapes (a training curriculum may start with fewer; the world itself has
     * up to four).
     */
    public static Scene scene(SplittableRandom random, int maxShapes) {
        if (maxShapes < 1 || maxShapes > MAX_SHAPES) {
            throw new IllegalArgumentException("a scene has 1 to 4 shapes, not up to " + maxShapes);
        }
        int[] bg = BACKGROUNDS[random.nextInt(BACKGROUNDS.length)];
        int count = 1 + random.nextInt(maxShapes);
        List<Shape> shapes = new ArrayList<>();
        int attempts = 0;
        while (shapes.size() < count && attempts < 1000) {
            attempts++;
            int side = MIN_SIDE + random.nextInt(MAX_SIDE - MIN_SIDE + 1);
            int x0 = random.nextInt(SIZE - side + 1);
            int y0 = random.nextInt(SIZE - side + 1);
            if (shapes.stream().anyMatch(s -> tooClose(s, x0, y0, x0 + side, y0 + side))) {
                continue;
            }
            Shape.Kind kind = Shape.Kind.values()[random.nextInt(3)];
            Shape.Colour colour = Shape.Colour.values()[random.nextInt(6)];
            int[] rgb = {jitter(colour.r, random), jitter(colour.g, random), jitter(colour.b, random)};
            shapes.add(new Shape(kind, colour, rgb, x0, y0, x0 + side, y0 + side));
        }
        return new Scene(bg.clone(), List.copyOf(shapes));
    }

    private static int jitter(int v, SplittableRandom r) {
        return Math.max(0, Math.min(255, v + r.nextInt(2 * JITTER + 1) - JITTER));
    }

    /** True when the boxes are closer than {@link #GAP} pixels (or overlap). */
    static boolean tooClose(Shape s, int x0, int y0, int x1, int y1) {
        return x0 < s.x1() + GAP && s.x0() < x1 + GAP && y0 < s.y1() + GAP && s.y0() < y1 + GAP;
    }

    /** Renders a scene without anti-aliasing, so every pixel is reproducible. */
    public static RgbImage render(Scene scene) {
        byte[] rgb = new byte[SIZE * SIZE * 3];
        for (int i = 0; i < SIZE * SIZE; i++) {
            rgb[3 * i] = (byte) scene.background()[0];
            rgb[3 * i + 1] = (byte) scene.background()[1];
            rgb[3 * i + 2] = (byte) scene.background()[2];
        }
        for (Shape s : scene.shapes()) {
            for (int y = s.y0(); y < s.y1(); y++) {
                for (int x = s.x0(); x < s.x1(); x++) {
                    if (covers(s, x, y)) {
                        int o = (y * SIZE + x) * 3;
                        rgb[o] = (byte) s.rgb()[0];
                        rgb[o + 1] = (byte) s.rgb()[1];
                        rgb[o + 2] = (byte) s.rgb()[2];
                    }
                }
            }
        }
        return new RgbImage(SIZE, SIZE, rgb);
    }

    /** Whether pixel (x, y) of the box belongs to the shape (sampled at the pixel centre). */
    public static boolean covers(Shape s, int x, int y) {
        double w = s.x1() - s.x0();
        double h = s.y1() - s.y0();
        double px = x + 0.5 - s.x0();
        double py = y + 0.5 - s.y0();
        return switch (s.kind()) {
            case SQUARE -> true;
            case CIRCLE -> {
                double dx = px / w - 0.5;
                double dy = py / h - 0.5;
                yield dx * dx + dy * dy <= 0.25;
            }
            // Isosceles, apex at the top centre, base along the bottom edge: it fills its box.
            case TRIANGLE -> Math.abs(px - w / 2) <= (py / h) * (w / 2);
        };
    }

    /** "A red circle, a blue square and a green triangle." (left to right). */
    public static String caption(Scene scene, boolean withBoxes) {
        List<Shape> s = scene.leftToRight();
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.size(); i++) {
            if (i > 0) {
                sb.append(i == s.size() - 1 ? " and " : ", ");
            }
            // English articles: "an orange circle" (the examples only show consonant colours).
            String article = s.get(i).colour() == Shape.Colour.ORANGE ? "an " : "a ";
            sb.append(i == 0 ? Character.toUpperCase(article.charAt(0)) + article.substring(1) : article).append(s.get(i).name());
            if (withBoxes) {
                sb.append(' ').append(s.get(i).box999());
            }
        }
        return sb.append('.').toString();
    }

    /** Every question the world defines for this scene, with its exact answer. */
    public static List<QA> questions(Scene scene) {
        List<QA> out = new ArrayList<>();
        out.add(new QA("Describe the image.", caption(scene, false), "caption"));
        out.add(new QA("Describe the image with boxes.", caption(scene, true), "caption_boxes"));
        out.add(new QA("How many shapes are there?", Integer.toString(scene.shapes().size()), "count"));
        for (Shape.Kind k : Shape.Kind.values()) {
            long n = scene.shapes().stream().filter(s -> s.kind() == k).count();
            out.add(new QA("How many " + k.word() + "s are there?", Long.toString(n), "count"));
            if (n == 1) {
                Shape s = scene.shapes().stream().filter(x -> x.kind() == k).findFirst().orElseThrow();
                out.add(new QA("What color is the " + k.word() + "?", s.colour().word(), "colour"));
            }
        }
        for (Shape.Colour c : Shape.Colour.values()) {
            List<Shape> withColour = scene.shapes().stream().filter(s -> s.colour() == c).toList();
            if (withColour.size() == 1) {
                out.add(new QA("What shape is the " + c.word() + " object?", withColour.get(0).kind().word(), "shape"));
            }
        }
        for (Shape s : scene.shapes()) {
            long same = scene.shapes().stream().filter(x -> x.kind() == s.kind() && x.colour() == s.colour()).count();
            if (same == 1) {
                out.add(new QA("Where is the " + s.name() + "?", s.box999(), "grounding"));
            }
        }
        return out;
    }

    /** The chat template's prompt for a question, as the shipped model is asked. */
    public static String prompt(String question) {
        return String.format(Locale.ROOT, "Question: %s Answer:", question);
    }
}
