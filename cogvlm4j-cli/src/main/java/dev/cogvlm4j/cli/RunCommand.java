package dev.cogvlm4j.cli;

import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.vision.RgbImage;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** One question about one image, answer streamed as it is generated. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Ask one question about an image; the answer streams to standard output.")
final class RunCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", description = "PNG, JPEG, BMP, GIF or WebP image (omit for text only).")
    Path image;

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The question.")
    String prompt;

    @Option(names = "--template", paramLabel = "NAME", description = "base, chat, vqa (CogAgent also chat_old). Default: the model's.")
    String template;

    @Option(names = "--stats", description = "Print token counts and timings to standard error.")
    boolean stats;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (CogVlm vlm = model.load()) {
            vlm.requireTokenizer();
            RgbImage img = image != null ? vlm.loadImage(image) : null;
            Question q = new Question(prompt, List.of(), img, template);
            Answer a = vlm.ask(q, sampling.options(), piece -> {
                out.print(piece);
                out.flush();
            });
            out.println();
            out.flush();
            if (stats) {
                printStats(spec.commandLine().getErr(), a);
            }
        }
        return 0;
    }

    static void printStats(PrintWriter err, Answer a) {
        double tps = a.decodeSeconds() > 0 ? a.ids().length / a.decodeSeconds() : 0;
        err.printf("[%d prompt tokens%s; vision %.2f s, prefill %.2f s; %d new tokens in %.2f s (%.1f tok/s)%s]%n",
                a.promptTokens(), a.reusedTokens() > 0 ? " (" + a.reusedTokens() + " reused from the cache)" : "",
                a.visionSeconds(), a.prefillSeconds(), a.ids().length, a.decodeSeconds(), tps,
                a.stoppedAtEos() ? "; stopped at end of sequence" : "");
        err.flush();
    }
}
