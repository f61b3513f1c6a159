package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.train.world.ShapesWorld;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Renders scenes of the synthetic shapes world with every question and its exact answer. */
@Command(name = "world", mixinStandardHelpOptions = true,
        description = {"Render shapes-world scenes with every question and its exact answer.",
                "Writes 224x224 PNGs and questions.jsonl, so anyone can make test images for the bundled model."})
final class WorldCommand implements Callable<Integer> {
    @Option(names = "--seed", defaultValue = "1", paramLabel = "S", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--count", defaultValue = "4", paramLabel = "N", description = "Scenes (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = "--prefix", defaultValue = "scene", paramLabel = "NAME", description = "File name prefix (default: ${DEFAULT-VALUE}).")
    String prefix;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder.")
    Path out;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (count <= 0 || count > 100_000) {
            throw new Main.UserException("--count must be between 1 and 100000");
        }
        if (!prefix.matches("[A-Za-z0-9_.-]+")) {
            throw new Main.UserException("--prefix may hold letters, digits, '.', '-' and '_' only");
        }
        Files.createDirectories(out);
        SplittableRandom r = new SplittableRandom(seed);
        ObjectMapper json = new ObjectMapper();
        try (BufferedWriter w = Files.newBufferedWriter(out.resolve("questions.jsonl"))) {
            for (int i = 1; i <= count; i++) {
                ShapesWorld.Scene scene = ShapesWorld.scene(r);
                String name = String.format(Locale.ROOT, "%s-%d.png", prefix, i);
                ImageIO.write(dev.cogvlm4j.vision.BoxPainter.draw(ShapesWorld.render(scene), java.util.List.of()), "png", out.resolve(name).toFile());
                for (ShapesWorld.QA qa : ShapesWorld.questions(scene)) {
                    Map<String, String> row = new LinkedHashMap<>();
                    row.put("image", name);
                    row.put("type", qa.type());
                    row.put("question", qa.question());
                    row.put("answer", qa.answer());
                    w.write(json.writeValueAsString(row));
                    w.newLine();
                }
            }
        }
        spec.commandLine().getErr().printf(Locale.ROOT, "wrote %d scenes and their questions to %s%n", count, out);
        return 0;
    }
}
