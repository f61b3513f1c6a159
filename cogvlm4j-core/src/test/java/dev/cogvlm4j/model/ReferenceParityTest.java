package dev.cogvlm4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cogvlm4j.Fixtures;
import dev.cogvlm4j.io.SafeTensorsFile;
import dev.cogvlm4j.vision.ImageLoader;
import dev.cogvlm4j.vision.PreparedImage;
import dev.cogvlm4j.vision.RgbImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every fixture case against the outputs of THUDM's PyTorch implementation, at float32: ids, positions and pixels
 * exact, vision features within 1e-4, logits within 1e-3 with the same argmax everywhere, greedy tokens identical.
 */
class ReferenceParityTest {

    static Stream<String> cases() {
        return Fixtures.cases().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesReference(String name) throws Exception {
        Path dir = Fixtures.caseDir(name);
        JsonNode exp = Fixtures.expected(dir);
        try (CogVlmModel model = CogVlmModel.load(dir);
             SafeTensorsFile ref = SafeTensorsFile.open(dir.resolve("expected.safetensors"))) {
            int[] ids = Fixtures.ints(exp.get("input_ids"));
            int[] types = Fixtures.ints(exp.get("token_type_ids"));
            ModelInput input = ModelInput.raw(ids, types);
            assertArrayEquals(Fixtures.ints(exp.get("position_ids")), input.positionIds(), "position_ids");

            ImageFeatures features = null;
            double visionDiff = Double.NaN;
            JsonNode imageName = exp.get("image");
            if (imageName != null && !imageName.isNull()) {
                RgbImage img = new ImageLoader().load(dir.resolve(imageName.asText()));
                if (ref.entries().containsKey("image_rgb_u8")) {
                    assertBytes(ref, "image_rgb_u8", img.rgb());
                }
                PreparedImage prepared = model.prepare(img);
                if (ref.entries().containsKey("resized_rgb_u8")) {
                    assertBytes(ref, "resized_rgb_u8", prepared.resized().rgb());
                }
                if (ref.entries().containsKey("pixel_values")) {
                    assertClose(ref.floats("pixel_values"), prepared.pixelValues(), 1e-5, "pixel_values");
                }
                if (ref.entries().containsKey("cross_pixel_values")) {
                    assertClose(ref.floats("cross_pixel_values"), prepared.crossPixelValues(), 1e-5, "cross_pixel_values");
                }
                features = model.encode(prepared);
                visionDiff = maxDiff(ref.floats("vision_out"), features.visionOut());
                assertClose(ref.floats("vision_out"), features.visionOut(), 1e-4, "vision_out");
                if (ref.entries().containsKey("cross_vision_out")) {
                    assertClose(ref.floats("cross_vision_out"), features.crossOut(), 1e-4, "cross_vision_out");
                }
            }

            Session session = model.newSession();
            float[] logits = session.prefill(input, features, true);
            float[] expLogits = ref.floats("logits");
            int vocab = model.config().vocabSize();
            double logitsDiff = maxDiff(expLogits, logits);
            assertClose(expLogits, logits, 1e-3, "logits");
            for (int i = 0; i < ids.length; i++) {
                assertEquals(argmax(expLogits, i * vocab, vocab), argmax(logits, i * vocab, vocab),
                        "argmax at position " + i);
            }

            long[] expGen = ref.longs("generated_ids");
            float[] last = new float[vocab];
            System.arraycopy(logits, (ids.length - 1) * vocab, last, 0, vocab);
            boolean stepLogits = ref.entries().containsKey("generation_step_logits");
            float[] steps = stepLogits ? ref.floats("generation_step_logits") : null;
            int[] got = new int[expGen.length];
            float[] current = last;
            for (int s = 0; s < expGen.length; s++) {
                if (steps != null) {
                    float[] e = new float[vocab];
                    System.arraycopy(steps, s * vocab, e, 0, vocab);
                    assertClose(e, current, 1e-3, "generation_step_logits step " + s);
                }
                got[s] = Sampler.argmax(current);
                if (s + 1 < expGen.length) {
                    current = session.next(got[s]);
                }
            }
            long[] gotL = new long[got.length];
            for (int i = 0; i < got.length; i++) {
                gotL[i] = got[i];
            }
            assertArrayEquals(expGen, gotL, "generated_ids");
            // One summary row per case, quoted in the README's parity table.
            System.out.printf("PARITY | %s | %s | %d | %s | %.1e | %d/%d |%n", name, model.config().family().displayName(),
                    ids.length, Double.isNaN(visionDiff) ? "-" : String.format("%.1e", visionDiff), logitsDiff,
                    expGen.length, expGen.length);
        }
    }

    static double maxDiff(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < Math.min(a.length, b.length); i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    static int argmax(float[] x, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[off + i] > x[off + best]) {
                best = i;
            }
        }
        return best;
    }

    static void assertBytes(SafeTensorsFile ref, String name, byte[] got) {
        long[] e = ref.longs(name);
        assertEquals(e.length, got.length, name + " size");
        int bad = 0;
        int maxDiff = 0;
        for (int i = 0; i < e.length; i++) {
            int d = Math.abs((int) e[i] - (got[i] & 0xff));
            if (d != 0) {
                bad++;
                maxDiff = Math.max(maxDiff, d);
            }
        }
        assertEquals(0, bad, name + ": " + bad + " bytes differ, max by " + maxDiff);
    }

    static void assertClose(float[] expected, float[] got, double tol, String what) {
        assertEquals(expected.length, got.length, what + " size");
        double max = 0;
        int at = -1;
        for (int i = 0; i < expected.length; i++) {
            double d = Math.abs(expected[i] - got[i]);
            if (!(d <= max)) {
                max = d;
                at = i;
            }
        }
        assertTrue(max <= tol, what + ": max |diff| " + max + " at " + at + " exceeds " + tol);
    }
}
