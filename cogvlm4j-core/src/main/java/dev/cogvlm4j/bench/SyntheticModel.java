package dev.cogvlm4j.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.io.GgufConverter;
import dev.cogvlm4j.io.GgufWriter;
import dev.cogvlm4j.io.Quantizer;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Parallel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.SplittableRandom;

/** Writes a GGUF model of any configuration filled with random weights, encoded as a real conversion would be. */
public final class SyntheticModel {
    private SyntheticModel() {
    }

    /** Writes {@code out}; returns the parsed configuration. */
    public static CogVlmConfig write(String configJson, Path out, DType type, DType visionType, long seed) throws IOException {
        CogVlmConfig c = CogVlmConfig.parse(new ObjectMapper().readTree(configJson), Set.of());
        GgufWriter w = new GgufWriter(out);
        w.put("general.architecture", "cogvlm");
        w.put(Checkpoint.GGUF_CONFIG, configJson);
        for (ModelShapes.Param p : ModelShapes.of(c)) {
            DType to = GgufConverter.targetType(p.name(), p.shape(), DType.BF16, type, visionType);
            boolean norm = p.name().contains("norm") && p.name().endsWith(".weight");
            long elements = dev.cogvlm4j.tensor.Shapes.elements(p.shape());
            long tensorSeed = seed * 31 + p.name().hashCode();
            w.tensor(p.name(), to, p.shape(), dst -> {
                int chunk = 1 << 20;
                int chunks = (int) ((elements + chunk - 1) / chunk);
                Parallel.range(chunks, ch -> {
                    long from = (long) ch * chunk;
                    int len = (int) Math.min(chunk, elements - from);
                    float[] buf = new float[len];
                    SplittableRandom r = new SplittableRandom(tensorSeed * 1_000_003 + ch);
                    for (int i = 0; i < len; i++) {
                        buf[i] = norm ? 1f : (float) r.nextDouble(-0.02, 0.02);
                    }
                    Quantizer.encode(buf, len, to, dst, to.byteSize(from));
                });
            });
        }
        w.write(null);
        return c;
    }
}
