package dev.cogvlm4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.Fixtures;
import dev.cogvlm4j.model.CogVlmModel;
import dev.cogvlm4j.model.ImageFeatures;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.model.Sampler;
import dev.cogvlm4j.model.Session;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.vision.ImageLoader;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Single-file GGUF models: converting a fixture and running it from the GGUF file reproduces the reference within
 * the precision of the chosen type, and hostile GGUF headers are refused with one-line errors.
 */
class GgufTest {
    @TempDir
    Path tmp;

    /** Result of running one converted model on its fixture. */
    record Drift(double maxLogitDiff, int sameGreedy, int steps, int robustSteps) {
    }

    static Drift run(Path model, Path caseDir) throws IOException {
        JsonNode exp = Fixtures.expected(caseDir);
        try (CogVlmModel m = CogVlmModel.load(model);
             SafeTensorsFile ref = SafeTensorsFile.open(caseDir.resolve("expected.safetensors"))) {
            int[] ids = Fixtures.ints(exp.get("input_ids"));
            ModelInput in = ModelInput.raw(ids, Fixtures.ints(exp.get("token_type_ids")));
            ImageFeatures f = exp.get("image").isNull() ? null
                    : m.encode(m.prepare(new ImageLoader().load(caseDir.resolve(exp.get("image").asText()))));
            Session s = m.newSession();
            float[] logits = s.prefill(in, f, true);
            float[] want = ref.floats("logits");
            double max = 0;
            for (int i = 0; i < want.length; i++) {
                max = Math.max(max, Math.abs(want[i] - logits[i]));
            }
            long[] gen = ref.longs("generated_ids");
            int vocab = m.config().vocabSize();
            float[] cur = java.util.Arrays.copyOfRange(logits, (ids.length - 1) * vocab, ids.length * vocab);
            int same = 0;
            for (int step = 0; step < gen.length; step++) {
                int t = Sampler.argmax(cur);
                if (t != gen[step]) {
                    break;
                }
                same++;
                if (step + 1 < gen.length) {
                    cur = s.next(t);
                }
            }
            // Steps the reference decides by a clear margin (twice the drift): those must not change.
            int robust = gen.length;
            if (ref.entries().containsKey("generation_step_logits")) {
                float[] steps = ref.floats("generation_step_logits");
                for (int step = 0; step < gen.length; step++) {
                    float best = Float.NEGATIVE_INFINITY;
                    float second = Float.NEGATIVE_INFINITY;
                    for (int v = 0; v < vocab; v++) {
                        float l = steps[step * vocab + v];
                        if (l > best) {
                            second = best;
                            best = l;
                        } else if (l > second) {
                            second = l;
                        }
                    }
                    if (best - second < 2 * max) {
                        robust = step;
                        break;
                    }
                }
            }
            return new Drift(max, same, gen.length, robust);
        }
    }

    static Stream<Arguments> conversions() {
        return Fixtures.cases().stream().flatMap(c -> Stream.of(DType.BF16, DType.Q8_0, DType.Q4_0).map(t -> Arguments.of(c, t)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("conversions")
    void convertedModelsRunFromOneFile(String name, DType type) throws IOException {
        Path dir = Fixtures.caseDir(name);
        Path out = tmp.resolve(name + "-" + type + ".gguf");
        try (Checkpoint ck = Checkpoint.open(dir)) {
            GgufConverter.convert(ck, out, type, DType.BF16, Map.of(), null);
        }
        Drift d = run(out, dir);
        System.out.printf("QUANT | %s | %s | %.2e | %d/%d | %d |%n", name, type, d.maxLogitDiff(), d.sameGreedy(), d.steps(),
                d.robustSteps());
        switch (type) {
            // The fixtures' weights are bf16 values, so a BF16 file holds them exactly.
            case BF16 -> {
                assertTrue(d.maxLogitDiff() < 1e-3, "bf16 logits drift " + d.maxLogitDiff());
                assertEquals(d.steps(), d.sameGreedy());
            }
            case Q8_0 -> {
                assertTrue(d.maxLogitDiff() < 0.15, "q8_0 logits drift " + d.maxLogitDiff());
                assertTrue(d.sameGreedy() >= d.robustSteps(), "q8_0 changed a greedy token the reference chose by a "
                        + "clear margin: " + d);
            }
            // The tiny fixtures' 64-wide dot products magnify 4-bit error; real 4096-wide layers average it out.
            default -> assertTrue(d.maxLogitDiff() < 3.5, "q4_0 logits drift " + d.maxLogitDiff());
        }
    }

    @Test
    void tokenizerAndConfigTravelInsideTheFile() throws IOException {
        Path dir = Fixtures.caseDir("cogvlm_base");
        Path out = tmp.resolve("m.gguf");
        try (Checkpoint ck = Checkpoint.open(dir)) {
            GgufConverter.convert(ck, out, DType.Q8_0, DType.Q8_0, Map.of("tokenizer.json", "{}".getBytes()), null);
        }
        try (Checkpoint g = Checkpoint.open(out)) {
            assertTrue(g.isGguf());
            assertArrayEquals("{}".getBytes(), g.file("tokenizer.json").orElseThrow());
            assertEquals(Files.readString(dir.resolve("config.json")), g.configJson());
            assertEquals(DType.Q8_0, g.entry("model.layers.0.mlp.vision_mlp.up_proj.weight").dtype());
            assertEquals(DType.F32, g.entry("model.norm.weight").dtype());
            // 14×14×3 patch kernels are not whole blocks: they stay a float type.
            assertEquals(DType.BF16, g.entry("model.vision.patch_embedding.proj.weight").dtype());
        }
    }

    private Path gguf(byte[] bytes) throws IOException {
        Path p = tmp.resolve("bad.gguf");
        Files.write(p, bytes);
        return p;
    }

    private String error(Path p) {
        ModelFormatException e = assertThrows(ModelFormatException.class, () -> GgufFile.open(p).close());
        assertTrue(!e.getMessage().contains("\n"));
        return e.getMessage();
    }

    @Test
    void hostileHeadersAreRefused() throws IOException {
        Path good = tmp.resolve("good.gguf");
        try (Checkpoint ck = Checkpoint.open(Fixtures.caseDir("cogvlm_base"))) {
            GgufConverter.convert(ck, good, DType.Q4_0, DType.BF16, Map.of(), null);
        }
        byte[] all = Files.readAllBytes(good);
        assertTrue(error(gguf(java.util.Arrays.copyOf(all, all.length - 100))).contains("truncated"));
        assertTrue(error(gguf(java.util.Arrays.copyOf(all, 40))).contains("past the end"));
        byte[] magic = all.clone();
        magic[0] = 'X';
        assertTrue(error(gguf(magic)).contains("not a GGUF file"));
        byte[] count = all.clone();
        ByteBuffer.wrap(count).order(ByteOrder.LITTLE_ENDIAN).putLong(8, Long.MAX_VALUE);
        assertTrue(error(gguf(count)).contains("implausible tensor count"));
        byte[] kv = all.clone();
        ByteBuffer.wrap(kv).order(ByteOrder.LITTLE_ENDIAN).putLong(16, 1L << 40);
        assertTrue(error(gguf(kv)).contains("implausible metadata count"));
        byte[] str = all.clone();
        ByteBuffer.wrap(str).order(ByteOrder.LITTLE_ENDIAN).putLong(24, 1L << 50);
        assertTrue(error(gguf(str)).contains("implausible string length"));
        byte[] version = all.clone();
        ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 99);
        assertTrue(error(gguf(version)).contains("version 99"));
    }
}
