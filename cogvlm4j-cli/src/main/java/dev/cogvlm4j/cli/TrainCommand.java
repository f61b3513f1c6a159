package dev.cogvlm4j.cli;

import dev.cogvlm4j.train.LossChart;
import dev.cogvlm4j.train.Recipe;
import dev.cogvlm4j.train.Trainer;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Trains a CogVLM-layout model on the shapes world, stage by stage, resuming where a killed run stopped. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a CogVLM-architecture model on the synthetic shapes world (the paper's recipe).",
                "(0) Pretrain the language model on the world's text and the vision tower on per-patch labels,",
                "then with the language model frozen train the adapter and visual experts (and the tower, gently) on",
                "(1) captions, (2) grounding, (3) every question type.",
                "Checkpoints go to --out; rerunning the same command resumes an interrupted stage exactly."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "Recipe JSON (e.g. recipes/shapes.json).")
    Path config;

    @Option(names = "--stage", defaultValue = "all", paramLabel = "NAME",
            description = "Stage to run, or 'all' for every stage in order (default: ${DEFAULT-VALUE}).")
    String stage;

    @Option(names = "--out", paramLabel = "DIR", description = "Run folder (default: runs/<recipe name>).")
    Path out;

    @Option(names = "--fusion", paramLabel = "deep|shallow",
            description = "Override the recipe's fusion: deep (visual experts) or shallow (tower and adapter only).")
    String fusion;

    @Option(names = "--install", paramLabel = "DIR",
            description = "After the last stage, copy its model folder here (e.g. models/cogvlm-shapes).")
    Path install;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(config)) {
            throw new Main.UserException(config + ": no such recipe file");
        }
        Recipe recipe;
        try {
            recipe = Recipe.load(config);
        } catch (IllegalArgumentException e) {
            throw new Main.UserException(e.getMessage());
        }
        if (fusion != null) {
            if (!fusion.equals("deep") && !fusion.equals("shallow")) {
                throw new Main.UserException("--fusion must be deep or shallow, not '" + fusion + "'");
            }
            recipe = recipe.withFusion(fusion.equals("deep"));
        }
        if (out == null) {
            String name = config.getFileName().toString().replaceFirst("\\.json$", "");
            out = Path.of("runs", name + (recipe.deepFusion() ? "" : "-shallow"));
        }
        List<String> stages = new ArrayList<>();
        if (stage.equals("all")) {
            recipe.stages().forEach(s -> stages.add(s.name()));
        } else {
            try {
                stages.add(recipe.stage(stage).name());
            } catch (IllegalArgumentException e) {
                throw new Main.UserException(e.getMessage());
            }
        }
        PrintWriter err = spec.commandLine().getErr();
        err.printf(Locale.ROOT, "training %s (%s fusion) into %s%n", config, recipe.deepFusion() ? "deep" : "shallow", out);
        err.flush();
        ProgressBar[] bar = {null};
        Trainer trainer = new Trainer(recipe, out, new Trainer.Listener() {
            @Override
            public void step(Trainer.StepReport r) {
                if (bar[0] == null) {
                    bar[0] = new ProgressBarBuilder().setTaskName(r.stage()).setInitialMax(r.steps())
                            .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500)
                            .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build();
                }
                bar[0].stepTo(r.step());
                bar[0].setExtraMessage(String.format(Locale.ROOT, " loss %.4f  %.0f tok/s  lr %.2e", r.loss(),
                        r.tokensPerSecond(), r.learningRate()));
            }

            @Override
            public void message(String line) {
                if (bar[0] != null) {
                    bar[0].close();
                    bar[0] = null;
                }
                err.println(line);
                err.flush();
            }
        });
        long t0 = System.nanoTime();
        try {
            for (String s : stages) {
                trainer.runStage(s, -1);
                if (bar[0] != null) {
                    bar[0].close();
                    bar[0] = null;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw new Main.UserException(e.getMessage());
        }
        List<LossChart.Series> series = new ArrayList<>();
        for (Recipe.Stage s : recipe.stages()) {
            Path csv = out.resolve(s.name()).resolve("loss.csv");
            if (Files.isRegularFile(csv)) {
                List<Double> l = Files.readAllLines(csv).stream().skip(1).map(x -> Double.parseDouble(x.split(",")[1])).toList();
                series.add(new LossChart.Series(s.name(), l));
            }
        }
        LossChart.write(series, out.resolve("loss.png"));
        err.printf(Locale.ROOT, "done in %.1f min; loss curves in %s%n", (System.nanoTime() - t0) / 6e10, out.resolve("loss.png"));
        String last = recipe.stages().get(recipe.stages().size() - 1).name();
        if (install != null && trainer.finished().contains(last)) {
            Path src = trainer.modelDir(last);
            Files.createDirectories(install);
            try (var files = Files.list(src)) {
                for (Path f : files.toList()) {
                    Files.copy(f, install.resolve(f.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
            err.println("installed the model in " + install);
        }
        err.flush();
        return 0;
    }
}
