package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.train.Evaluator;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Scores a model on fresh shapes-world images, and optionally checks that its text answers equal another's. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = {"Score a model on fresh shapes-world scenes, per question type.",
                "Asks every question of each scene (greedy, chat template); answers must match exactly, grounding",
                "boxes need IoU >= 0.5."})
final class EvaluateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--images", defaultValue = "200", paramLabel = "N", description = "Scenes to evaluate (default: ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--seed", defaultValue = "20261126", paramLabel = "S",
            description = "Seed of the scenes; the recipes never train on it (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--text-identical-to", paramLabel = "DIR",
            description = "Also check that 100 text-only prompts give bit-identical logits in this other model "
                    + "(e.g. the language-model stage's).")
    Path textBaseline;

    /** How {@code --in-words} writes a scene. */
    enum WordsForm {
        caption(Evaluator.ScenesAs.CAPTION), listing(Evaluator.ScenesAs.LISTING), slots(Evaluator.ScenesAs.SLOTS);

        final Evaluator.ScenesAs as;

        WordsForm(Evaluator.ScenesAs as) {
            this.as = as;
        }
    }

    @Option(names = "--in-words", arity = "0..1", fallbackValue = "caption", paramLabel = "FORM",
            description = "Give each scene as text instead of an image: the reading test for a language-model stage, "
                    + "which has no vision to speak of yet. FORM: caption (its caption with boxes, the default), "
                    + "listing (each shape's word, then its colour's, then its box) or slots (each patch's object "
                    + "as a code in the image slots, what a slots stage teaches).")
    WordsForm inWords;

    @Option(names = "--label", paramLabel = "TEXT", description = "Row label of the Markdown table (default: the model folder).")
    String label;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (images <= 0) {
            throw new Main.UserException("--images must be positive");
        }
        PrintWriter out = spec.commandLine().getOut();
        try (CogVlm m = model.load()) {
            m.requireTokenizer();
            Evaluator.ScenesAs as = inWords == null ? Evaluator.ScenesAs.IMAGES : inWords.as;
            Evaluator.Report r;
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("evaluate").setInitialMax(images)
                    .setStyle(ProgressBarStyle.ASCII)
                    .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build()) {
                r = as == Evaluator.ScenesAs.SLOTS ? Evaluator.evaluateSlots(model.modelDir(), seed, images, bar::stepTo)
                        : Evaluator.evaluate(m, seed, images, as, bar::stepTo);
            }
            Integer same = null;
            if (textBaseline != null) {
                if (!Files.exists(textBaseline)) {
                    throw new Main.UserException(textBaseline + ": no such model folder");
                }
                try (CogVlm base = CogVlm.load(textBaseline)) {
                    same = Evaluator.identicalTextLogits(m, base, seed, 100);
                }
            }
            String name = label != null ? label : model.modelDir().getFileName().toString();
            if (json) {
                ObjectMapper mapper = new ObjectMapper();
                ObjectNode o = mapper.createObjectNode();
                o.put("model", name);
                o.put("images", r.images());
                o.put("seed", r.seed());
                o.put("scenes_as", as.label());
                ObjectNode acc = o.putObject("accuracy");
                r.asked().keySet().forEach(t -> acc.put(t, r.accuracy(t)));
                acc.put("count_colour_shape", r.attributes());
                ObjectNode asked = o.putObject("asked");
                r.asked().forEach(asked::put);
                if (same != null) {
                    o.put("text_only_identical", same);
                    o.put("text_only_prompts", 100);
                }
                ObjectNode by = o.putObject("by_shapes");
                r.byShapes().forEach((type, cells) -> {
                    ObjectNode t = by.putObject(type);
                    for (int n = 1; n < cells.length; n++) {
                        if (cells[n][0] > 0) {
                            t.putObject(Integer.toString(n)).put("asked", cells[n][0]).put("correct", cells[n][1]);
                        }
                    }
                });
                var f = o.putArray("failures");
                r.failures().forEach(f::add);
                out.println(mapper.writerWithDefaultPrettyPrinter().writeValueAsString(o));
            } else {
                out.println(Evaluator.markdownHeader());
                out.println(Evaluator.markdownRow(name, r));
                out.printf(Locale.ROOT, "%n%d images (seed %d); questions asked: %s%n", r.images(), r.seed(), r.asked());
                out.println("right answers by the number of shapes in the scene (1, 2, 3, 4):");
                r.byShapes().forEach((type, cells) -> {
                    StringBuilder line = new StringBuilder("  " + type + ":");
                    for (int n = 1; n < cells.length; n++) {
                        line.append(n == 1 ? " " : ", ").append(cells[n][1]).append('/').append(cells[n][0]);
                    }
                    out.println(line);
                });
                if (same != null) {
                    out.printf(Locale.ROOT, "text-only prompts with bit-identical logits to %s: %d of 100%n", textBaseline, same);
                }
                if (!r.failures().isEmpty()) {
                    out.println("some wrong answers:");
                    r.failures().stream().limit(8).forEach(s -> out.println("  " + s));
                }
            }
            out.flush();
        }
        return 0;
    }
}
