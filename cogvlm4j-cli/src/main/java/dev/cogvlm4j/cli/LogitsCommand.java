package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.io.SafeTensorsWriter;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.CogVlmModel;
import dev.cogvlm4j.model.ImageFeatures;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.vision.PreparedImage;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Contract command: every intermediate a parity check needs, in float32, to a safetensors file. */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = {"Write a request's ids, positions, pixels, vision features and logits to safetensors.",
                "Tensors: input_ids, token_type_ids, position_ids, pixel_values, vision_out, cross_vision_out",
                "(CogAgent) and logits [L,V], all computed in float32."})
final class LogitsCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--request", required = true, paramLabel = "REQ.json", description = "Raw ids or a text request.")
    Path request;

    @Option(names = "--out", required = true, paramLabel = "OUT.safetensors", description = "Output file.")
    Path out;

    @Override
    public Integer call() throws Exception {
        try (CogVlm vlm = model.load()) {
            JsonNode r = Requests.readFile(request);
            Requests.Parsed p = Requests.resolve(vlm, r, request.getFileName().toString(),
                    List.of(request.toAbsolutePath().getParent(), vlm.model().checkpoint().dir()));
            ModelInput in = p.input();
            CogVlmModel m = vlm.model();
            CogVlmConfig c = m.config();
            int len = in.length();
            SafeTensorsWriter w = new SafeTensorsWriter()
                    .i64("input_ids", in.inputIds(), 1, len)
                    .i64("token_type_ids", in.tokenTypeIds(), 1, len)
                    .i64("position_ids", in.positionIds(), 1, len);
            ImageFeatures f = null;
            if (in.imageSlots() > 0) {
                PreparedImage prep = m.prepare(p.image());
                int s = c.vision().imageSize();
                w.f32("pixel_values", prep.pixelValues(), 1, 3, s, s);
                f = m.encode(prep);
                w.f32("vision_out", f.visionOut(), 1, f.tokens(), c.hiddenSize());
                if (f.crossOut() != null) {
                    int sx = c.cross().imageSize();
                    w.f32("cross_pixel_values", prep.crossPixelValues(), 1, 3, sx, sx);
                    w.f32("cross_vision_out", f.crossOut(), 1, f.crossTokens(), c.cross().hiddenSize());
                }
            }
            float[] logits = m.newSession().prefill(in, f, true);
            w.f32("logits", logits, len, c.vocabSize());
            w.write(out);
        }
        return 0;
    }
}
