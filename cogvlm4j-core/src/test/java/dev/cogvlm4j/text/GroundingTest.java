package dev.cogvlm4j.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.vision.BoxPainter;
import dev.cogvlm4j.vision.RgbImage;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reference's box syntax as data, and drawn. */
class GroundingTest {
    @Test
    void boxesAttachToThePhraseBeforeThem() {
        String a = "A man [[120,300,450,999]] and two dogs [[500,600,700,800;610,600,700,810]].";
        List<Grounding.Box> boxes = Grounding.parse(a, 1000, 500);
        assertEquals(3, boxes.size());
        assertEquals("A man", boxes.get(0).phrase());
        assertArrayEquals(new int[]{120, 300, 450, 999}, boxes.get(0).box999());
        assertArrayEquals(new int[]{120, 150, 450, 500}, boxes.get(0).pixels());
        assertEquals("two dogs", boxes.get(1).phrase());
        assertEquals("two dogs", boxes.get(2).phrase());
        assertArrayEquals(new int[]{610, 300, 700, 405}, boxes.get(2).pixels());
        assertEquals("A man and two dogs.", Grounding.strip(a));
    }

    @Test
    void zeroPaddedBoxesFromTheShapesWorld() {
        // Coordinates written as x·1000/224, floored and zero-padded, map back into the 224-pixel image.
        List<Grounding.Box> b = Grounding.parse("A red circle [[045,120,310,388]].", 224, 224);
        assertArrayEquals(new int[]{10, 27, 69, 87}, b.get(0).pixels());
        assertTrue(Grounding.parse("no boxes here [[1,2]]", 10, 10).isEmpty());
    }

    @Test
    void paintsBoxes(@TempDir Path tmp) throws Exception {
        byte[] rgb = new byte[40 * 30 * 3];
        RgbImage img = new RgbImage(40, 30, rgb);
        Path png = tmp.resolve("boxed.png");
        BoxPainter.write(img, Grounding.parse("cat [[100,100,500,900]]", 40, 30), png);
        java.awt.image.BufferedImage back = javax.imageio.ImageIO.read(png.toFile());
        assertEquals(40, back.getWidth());
        assertTrue((back.getRGB(4, 15) & 0xffffff) != 0, "box edge drawn at x=4");
        assertEquals(0, back.getRGB(12, 24) & 0xffffff, "inside stays untouched");
    }
}
