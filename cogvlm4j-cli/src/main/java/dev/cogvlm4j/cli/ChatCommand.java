package dev.cogvlm4j.cli;

import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.text.Turn;
import dev.cogvlm4j.vision.RgbImage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** An interactive multi-turn conversation, with an image given at start or loaded with /image. */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = {"Chat about an image, turn by turn.",
                "Commands: /image FILE (switch image; history is kept as text), /clear (forget history and image),",
                "/history, /exit. End of input also exits."})
final class ChatCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    @Option(names = {"-i", "--image"}, paramLabel = "FILE", description = "Image to start with.")
    Path image;

    @Option(names = "--template", paramLabel = "NAME", description = "base, chat, vqa (CogAgent also chat_old). Default: the model's.")
    String template;

    @Option(names = "--stats", description = "Print token counts and timings after each answer.")
    boolean stats;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** Where the user's lines come from (standard input unless a test or host replaces it). */
    java.io.InputStream input = System.in;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        BufferedReader in = new BufferedReader(new InputStreamReader(input, StandardCharsets.UTF_8));
        try (CogVlm vlm = model.load()) {
            vlm.requireTokenizer();
            RgbImage current = image != null ? vlm.loadImage(image) : null;
            List<Turn> history = new ArrayList<>();
            out.println(vlm.config().family().displayName() + " ready" + (current != null ? " with " + image : "")
                    + ". Type a question, /image FILE, /clear or /exit.");
            while (true) {
                out.print("you> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/exit") || line.strip().equals("/quit")) {
                    out.println();
                    out.flush();
                    return 0;
                }
                line = line.strip();
                if (line.isEmpty()) {
                    continue;
                }
                try {
                    if (line.startsWith("/image")) {
                        String f = line.substring(6).strip();
                        if (f.isEmpty()) {
                            throw new IllegalArgumentException("usage: /image FILE");
                        }
                        current = vlm.loadImage(Path.of(f));
                        out.println("(image " + f + ": " + current.width() + "x" + current.height() + ")");
                        continue;
                    }
                    if (line.equals("/clear")) {
                        history.clear();
                        current = null;
                        out.println("(history and image cleared)");
                        continue;
                    }
                    if (line.equals("/history")) {
                        history.forEach(t -> out.println("Q: " + t.question() + "\nA: " + t.answer()));
                        continue;
                    }
                    out.print("model> ");
                    out.flush();
                    Answer a = vlm.ask(new Question(line, history, current, template), sampling.options(), piece -> {
                        out.print(piece);
                        out.flush();
                    });
                    out.println();
                    history.add(new Turn(line, a.text()));
                    if (stats) {
                        RunCommand.printStats(err, a);
                    }
                } catch (RuntimeException e) {
                    if (!Main.isUserError(e)) {
                        throw e;
                    }
                    out.println();
                    err.println("error: " + Main.oneLine(e));
                    err.flush();
                }
            }
        }
    }
}
