package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.text.Grounding;
import dev.cogvlm4j.vision.BoxPainter;
import dev.cogvlm4j.vision.RgbImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Asks a grounding question and returns the boxes as data and as a picture. */
@Command(name = "ground", mixinStandardHelpOptions = true,
        description = {"Ask a grounding question and get its boxes as data and as a picture.",
                "The [[x0,y0,x1,y1]] boxes of the answer (e.g. to 'Where is the dog?') become pixel coordinates of",
                "the original image: drawn on a PNG (--out) and/or printed (--json)."})
final class GroundCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = {"-i", "--image"}, required = true, paramLabel = "FILE", description = "The image.")
    Path image;

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The question.")
    String prompt;

    @Option(names = "--template", paramLabel = "NAME", description = "Prompt template (default: the model's).")
    String template;

    @Option(names = {"-o", "--out"}, paramLabel = "FILE.png", description = "Write the image with the boxes drawn.")
    Path out;

    @Option(names = "--json", description = "Print the answer and boxes as JSON.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter w = spec.commandLine().getOut();
        try (CogVlm vlm = model.load()) {
            vlm.requireTokenizer();
            RgbImage img = vlm.loadImage(image);
            Answer a = vlm.ask(new Question(prompt, List.of(), img, template), sampling.options(), null);
            List<Grounding.Box> boxes = Grounding.parse(a.text(), img.width(), img.height());
            if (out != null) {
                BoxPainter.write(img, boxes, out);
            }
            if (json) {
                ObjectMapper om = new ObjectMapper();
                ObjectNode o = om.createObjectNode();
                o.put("text", a.text());
                o.put("width", img.width());
                o.put("height", img.height());
                ArrayNode arr = o.putArray("boxes");
                for (Grounding.Box b : boxes) {
                    ObjectNode bo = arr.addObject();
                    bo.put("phrase", b.phrase());
                    bo.set("box_999", om.valueToTree(b.box999()));
                    bo.set("box_pixels", om.valueToTree(b.pixels()));
                }
                w.println(om.writeValueAsString(o));
            } else {
                w.println(a.text());
                for (Grounding.Box b : boxes) {
                    int[] p = b.pixels();
                    w.printf("  %s: (%d, %d) - (%d, %d)%n", b.phrase().isEmpty() ? "(box)" : b.phrase(), p[0], p[1], p[2], p[3]);
                }
                if (boxes.isEmpty()) {
                    w.println("  (no boxes in the answer)");
                }
            }
            w.flush();
        }
        return 0;
    }
}
