package dev.cogvlm4j.cli;

import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.io.GgufConverter;
import dev.cogvlm4j.tensor.DType;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Converts a HuggingFace folder into one GGUF file that {@code --model FILE.gguf} maps and runs directly. */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Convert a model folder into one GGUF file (weights re-encoded, config and tokenizer inside).",
                "Weight matrices take --type (language model) and --vision-type (towers); norms, biases and",
                "position tables stay F32."})
final class QuantizeCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR", description = "HuggingFace model folder.")
    Path model;

    @Option(names = "--type", required = true, paramLabel = "T", description = "q8_0, q4_0, bf16, f16 or f32.")
    String type;

    @Option(names = "--vision-type", paramLabel = "T", defaultValue = "bf16",
            description = "Type for the vision towers' matrices (default: ${DEFAULT-VALUE}).")
    String visionType;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "Tokenizer folder to embed (default: the model folder's, if any).")
    Path tokenizer;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE.gguf", description = "Output file.")
    Path out;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    static DType parseType(String s) {
        for (DType t : List.of(DType.Q8_0, DType.Q4_0, DType.BF16, DType.F16, DType.F32)) {
            if (t.name().equalsIgnoreCase(s)) {
                return t;
            }
        }
        throw new Main.UserException("unknown type '" + s + "'; use q8_0, q4_0, bf16, f16 or f32");
    }

    @Override
    public Integer call() throws Exception {
        DType t = parseType(type);
        DType vt = parseType(visionType);
        if (!Files.isDirectory(model)) {
            throw new Main.UserException(model + ": not a model folder");
        }
        Map<String, byte[]> files = new LinkedHashMap<>();
        Path tokDir = tokenizer != null ? (Files.isDirectory(tokenizer) ? tokenizer : tokenizer.toAbsolutePath().getParent()) : model;
        // One tokenizer source is enough: tokenizer.model when present (the Llama-2 reference), else tokenizer.json.
        for (String f : List.of("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")) {
            Path p = tokDir.resolve(f);
            if (Files.isRegularFile(p) && !(f.equals("tokenizer.json") && files.containsKey("tokenizer.model"))) {
                files.put(f, Files.readAllBytes(p));
            }
        }
        if (tokenizer != null && Files.isRegularFile(tokenizer)) {
            files.put(tokenizer.getFileName().toString(), Files.readAllBytes(tokenizer));
        }
        PrintWriter err = spec.commandLine().getErr();
        try (Checkpoint ck = Checkpoint.open(model)) {
            dev.cogvlm4j.model.CogVlmConfig.load(ck);
            List<GgufConverter.Step> plan = GgufConverter.plan(ck, t, vt);
            long total = plan.stream().mapToLong(GgufConverter.Step::elements).sum();
            long[] done = {0};
            Path tmp = out.resolveSibling(out.getFileName() + ".part");
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("quantize " + t.name().toLowerCase(Locale.ROOT))
                    .setInitialMax(total / 1_000_000 + 1).setUnit(" M", 1).setStyle(ProgressBarStyle.ASCII)
                    .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build()) {
                GgufConverter.convert(ck, tmp, t, vt, files, step -> {
                    bar.setExtraMessage(" " + shortName(step.name()) + " " + step.to());
                    done[0] += step.elements();
                    bar.stepTo(done[0] / 1_000_000);
                });
                bar.stepTo(total / 1_000_000 + 1);
            }
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            err.printf("wrote %s: %d tensors, %.1f MB (%s weights, %s vision)%s%n", out, plan.size(),
                    Files.size(out) / 1e6, t.name().toLowerCase(Locale.ROOT), vt.name().toLowerCase(Locale.ROOT),
                    files.isEmpty() ? "; no tokenizer embedded (pass --tokenizer)" : "");
            err.flush();
        }
        return 0;
    }

    private static String shortName(String n) {
        return n.length() > 48 ? "…" + n.substring(n.length() - 47) : n;
    }
}
