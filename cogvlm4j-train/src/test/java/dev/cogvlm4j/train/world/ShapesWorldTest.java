package dev.cogvlm4j.train.world;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.vision.RgbImage;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The world's rules, checked over many scenes, and its answers in the exact forms the issue specifies. */
class ShapesWorldTest {

    @Test
    void scenesFollowTheRules() {
        SplittableRandom r = new SplittableRandom(1);
        for (int n = 0; n < 2000; n++) {
            ShapesWorld.Scene s = ShapesWorld.scene(r);
            assertTrue(s.shapes().size() >= 1 && s.shapes().size() <= 4);
            for (int i = 0; i < s.shapes().size(); i++) {
                Shape a = s.shapes().get(i);
                int side = a.x1() - a.x0();
                assertEquals(side, a.y1() - a.y0());
                assertTrue(side >= 28 && side <= 64 && a.x0() >= 0 && a.y0() >= 0 && a.x1() <= 224 && a.y1() <= 224, a.toString());
                Shape.Colour c = a.colour();
                assertTrue(Math.abs(a.rgb()[0] - c.r) <= 15 && Math.abs(a.rgb()[1] - c.g) <= 15 && Math.abs(a.rgb()[2] - c.b) <= 15);
                for (int j = 0; j < i; j++) {
                    Shape b = s.shapes().get(j);
                    boolean apart = a.x1() + 4 <= b.x0() || b.x1() + 4 <= a.x0() || a.y1() + 4 <= b.y0() || b.y1() + 4 <= a.y0();
                    assertTrue(apart, a + " and " + b + " are closer than 4 px");
                }
            }
        }
    }

    @Test
    void sameSeedSameWorld() {
        ShapesWorld.Scene a = ShapesWorld.scene(new SplittableRandom(42));
        ShapesWorld.Scene b = ShapesWorld.scene(new SplittableRandom(42));
        assertEquals(ShapesWorld.caption(a, true), ShapesWorld.caption(b, true));
        assertArrayEquals(ShapesWorld.render(a).rgb(), ShapesWorld.render(b).rgb());
    }

    private static Shape shape(Shape.Kind k, Shape.Colour c, int x0, int y0, int side) {
        return new Shape(k, c, new int[]{c.r, c.g, c.b}, x0, y0, x0 + side, y0 + side);
    }

    @Test
    void answersInTheExactForms() {
        ShapesWorld.Scene s = new ShapesWorld.Scene(new int[]{255, 255, 255}, List.of(
                shape(Shape.Kind.SQUARE, Shape.Colour.BLUE, 120, 30, 40),
                shape(Shape.Kind.CIRCLE, Shape.Colour.RED, 10, 27, 60),
                shape(Shape.Kind.TRIANGLE, Shape.Colour.GREEN, 170, 150, 50)));
        assertEquals("A red circle, a blue square and a green triangle.", ShapesWorld.caption(s, false));
        assertEquals("A red circle [[044,120,312,388]], a blue square [[535,133,714,312]] and a green triangle "
                + "[[758,669,982,892]].", ShapesWorld.caption(s, true));
        List<ShapesWorld.QA> qa = ShapesWorld.questions(s);
        assertTrue(qa.contains(new ShapesWorld.QA("How many shapes are there?", "3", "count")));
        assertTrue(qa.contains(new ShapesWorld.QA("How many circles are there?", "1", "count")));
        assertTrue(qa.contains(new ShapesWorld.QA("What color is the circle?", "red", "colour")));
        assertTrue(qa.contains(new ShapesWorld.QA("What shape is the blue object?", "square", "shape")));
        assertTrue(qa.contains(new ShapesWorld.QA("Where is the red circle?", "[[044,120,312,388]]", "grounding")));
        ShapesWorld.Scene two = new ShapesWorld.Scene(new int[]{255, 255, 255}, List.of(
                shape(Shape.Kind.SQUARE, Shape.Colour.BLUE, 120, 30, 40), shape(Shape.Kind.CIRCLE, Shape.Colour.RED, 10, 27, 60)));
        assertEquals("A red circle and a blue square.", ShapesWorld.caption(two, false));
        assertTrue(ShapesWorld.questions(two).contains(new ShapesWorld.QA("How many triangles are there?", "0", "count")));
        assertEquals("Question: Describe the image. Answer:", ShapesWorld.prompt("Describe the image."));
        ShapesWorld.Scene orange = new ShapesWorld.Scene(new int[]{255, 255, 255}, List.of(
                shape(Shape.Kind.CIRCLE, Shape.Colour.ORANGE, 10, 10, 30), shape(Shape.Kind.SQUARE, Shape.Colour.ORANGE, 100, 10, 30)));
        assertEquals("An orange circle and an orange square.", ShapesWorld.caption(orange, false));
    }

    @Test
    void uniqueOnlyQuestionsAreSkippedWhenAmbiguous() {
        ShapesWorld.Scene s = new ShapesWorld.Scene(new int[]{255, 255, 255}, List.of(
                shape(Shape.Kind.CIRCLE, Shape.Colour.RED, 10, 10, 30), shape(Shape.Kind.CIRCLE, Shape.Colour.RED, 100, 100, 30)));
        List<ShapesWorld.QA> qa = ShapesWorld.questions(s);
        assertTrue(qa.stream().noneMatch(q -> q.type().equals("colour") || q.type().equals("shape") || q.type().equals("grounding")), qa.toString());
    }

    @Test
    void renderingDrawsEachShapeInsideItsBox() {
        Shape tri = shape(Shape.Kind.TRIANGLE, Shape.Colour.ORANGE, 100, 100, 40);
        Shape circle = shape(Shape.Kind.CIRCLE, Shape.Colour.PURPLE, 20, 20, 40);
        RgbImage img = ShapesWorld.render(new ShapesWorld.Scene(new int[]{230, 230, 230}, List.of(tri, circle)));
        assertArrayEquals(new int[]{245, 130, 30}, px(img, 120, 130), "triangle body");
        assertArrayEquals(new int[]{245, 130, 30}, px(img, 120, 101), "apex at the top centre");
        assertArrayEquals(new int[]{230, 230, 230}, px(img, 101, 101), "outside the triangle, inside its box");
        assertArrayEquals(new int[]{245, 130, 30}, px(img, 101, 139), "base spans the box");
        assertArrayEquals(new int[]{140, 60, 170}, px(img, 40, 40), "circle centre");
        assertArrayEquals(new int[]{230, 230, 230}, px(img, 21, 21), "circle corner is background");
        assertArrayEquals(new int[]{230, 230, 230}, px(img, 0, 223), "background");
    }

    private static int[] px(RgbImage img, int x, int y) {
        int o = (y * img.width() + x) * 3;
        return new int[]{img.rgb()[o] & 0xff, img.rgb()[o + 1] & 0xff, img.rgb()[o + 2] & 0xff};
    }
}
