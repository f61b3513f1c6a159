package dev.cogvlm4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.io.SafeTensorsFile;
import dev.cogvlm4j.io.SafeTensorsWriter;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.tensor.Parallel;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.text.Tokenizers;
import dev.cogvlm4j.train.data.EpisodeFactory;
import dev.cogvlm4j.train.data.WorldTokenizer;
import dev.cogvlm4j.train.model.CogVlmNet;
import dev.cogvlm4j.train.model.Episode;
import dev.cogvlm4j.train.model.Grads;
import dev.cogvlm4j.train.nn.AdamW;
import dev.cogvlm4j.train.nn.Param;
import dev.cogvlm4j.train.world.ShapesWorld;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Runs the recipe's stages. Each stage starts from the previous stage's weights, trains the parameters its role
 * allows (the language model in the text stage; afterwards the tower, adapter and visual experts with the language
 * model frozen), checkpoints its full state, and resumes from exactly that state after a kill: data for step
 * {@code s} derive from the seed and {@code s} alone, and the optimizer state is saved bit for bit.
 *
 * <p>Layout of a run folder: {@code tokenizer/}, then per stage {@code STAGE/state.safetensors} (weights and
 * moments, float32), {@code STAGE/state.json} (step, losses), {@code STAGE/loss.csv}, {@code STAGE/loss.png}, and
 * when the stage is done {@code STAGE/model/} (the checkpoint the engine loads: config.json, BF16 model.safetensors,
 * tokenizer files).
 */
public final class Trainer {
    /** Receives progress. */
    public interface Listener {
        /** After every step. */
        void step(StepReport report);

        /** A line of news (resumed, skipped, exported). */
        default void message(String line) {
        }
    }

    /**
     * One step's figures.
     *
     * @param stage           stage name
     * @param step            steps done (1-based)
     * @param steps           steps in the stage
     * @param loss            mean cross-entropy over the step's target tokens
     * @param learningRate    the rate used
     * @param gradNorm        global gradient norm before clipping
     * @param tokensPerSecond decoder rows processed per second in this step
     * @param seconds         wall time of the step
     */
    public record StepReport(String stage, int step, int steps, double loss, double learningRate, double gradNorm,
                             double tokensPerSecond, double seconds) {
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private final Recipe recipe;
    private final Path out;
    private final Listener listener;

    /** A trainer writing into {@code out}. */
    public Trainer(Recipe recipe, Path out, Listener listener) {
        this.recipe = recipe;
        this.out = out;
        this.listener = listener;
    }

    /** The tokenizer folder, built on first use (deterministic from the recipe). */
    public Path tokenizerDir() throws IOException {
        Path dir = out.resolve("tokenizer");
        if (!Files.isRegularFile(dir.resolve("tokenizer.json"))) {
            Path tmp = out.resolve("tokenizer.tmp");
            deleteTree(tmp);
            WorldTokenizer.build(tmp, recipe.seed(), recipe.tokenizerScenes(), recipe.tokenizerMerges(),
                    recipe.tokenizerSplitsPunctuation(), recipe.tokenizerPhrases());
            Files.createDirectories(out);
            deleteTree(dir);
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
        }
        return dir;
    }

    /** The model's {@code config.json} for the recipe and tokenizer. */
    public ObjectNode modelConfig(Tokenizer tok) {
        ObjectNode c = recipe.model().deepCopy();
        c.putArray("architectures").add("CogVLMForCausalLM");
        c.put("vocab_size", tok.vocabSize());
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        c.put("pad_token_id", 0);
        c.put("template_version", "chat");
        c.put("hidden_act", "silu");
        c.put("torch_dtype", "bfloat16");
        if (!c.has("rms_norm_eps")) {
            c.put("rms_norm_eps", 1e-5);
        }
        if (!c.has("max_position_embeddings")) {
            c.put("max_position_embeddings", 2048);
        }
        ObjectNode v = (ObjectNode) c.get("vision_config");
        int grid = v.path("image_size").asInt() / Math.max(1, v.path("patch_size").asInt(14));
        v.put("num_positions", grid * grid + 1);
        v.put("hidden_act", "gelu");
        v.put("in_channels", 3);
        if (!v.has("layer_norm_eps")) {
            v.put("layer_norm_eps", 1e-6);
        }
        return c;
    }

    /** Runs every stage in order (finished ones are skipped, an interrupted one resumes). */
    public void runAll() throws IOException {
        for (Recipe.Stage s : recipe.stages()) {
            runStage(s.name(), -1);
        }
    }

    /**
     * Runs one stage to its end, or until {@code stopAfter} steps have been taken in total (a simulated kill, for
     * tests; -1 for none). Returns the stage's losses so far.
     */
    public List<Double> runStage(String name, int stopAfter) throws IOException {
        Recipe.Stage stage = recipe.stage(name);
        int index = recipe.indexOf(stage);
        Tokenizer tok = Tokenizers.load(tokenizerDir());
        ObjectNode configJson = modelConfig(tok);
        CogVlmConfig config = CogVlmConfig.parse(configJson, java.util.Set.of());
        Path dir = out.resolve(stage.name());
        Files.createDirectories(dir);
        Path stateJson = dir.resolve("state.json");
        CogVlmNet net;
        AdamW opt = optimizer(stage);
        List<Double> losses = new ArrayList<>();
        int start = 0;
        if (Files.isRegularFile(stateJson)) {
            JsonNode st = JSON.readTree(stateJson.toFile());
            net = loadWeights(config, dir.resolve("state.safetensors"), opt);
            start = st.path("step").asInt();
            st.path("losses").forEach(x -> losses.add(x.asDouble()));
            if (st.path("done").asBoolean(false)) {
                listener.message(stage.name() + ": already trained (" + start + " steps); skipping");
                return losses;
            }
            listener.message(stage.name() + ": resuming at step " + start + " of " + stage.steps());
        } else if (index == 0) {
            net = CogVlmNet.initialize(config, recipe.seed());
        } else {
            Recipe.Stage prev = recipe.stages().get(index - 1);
            Path prevState = out.resolve(prev.name()).resolve("state.json");
            if (!Files.isRegularFile(prevState) || !JSON.readTree(prevState.toFile()).path("done").asBoolean(false)) {
                throw new IllegalStateException("stage " + stage.name() + " starts from stage " + prev.name()
                        + ", which has not finished; run it first (or --stage all)");
            }
            net = loadWeights(config, out.resolve(prev.name()).resolve("state.safetensors"), null);
            // The first stage after the language model draws the vision side afresh; the first stage that runs
            // images through the decoder (right away, or after the tower's own pretraining) starts the visual
            // experts from the language weights.
            if (prev.text() && !stage.text()) {
                net.reinitializeVision(recipe.seed() + index);
            }
            if ((prev.text() || prev.patches()) && !stage.text() && !stage.patches() && recipe.deepFusion()) {
                net.initVisualExpertsFromLanguage();
                listener.message(stage.name() + ": visual experts initialised from the language model's weights");
            }
        }
        configure(net, stage);
        EpisodeFactory factory = new EpisodeFactory(tok, config);
        int workers = recipe.threads() > 0 ? recipe.threads() : Parallel.threads();
        Grads[] grads = new Grads[workers];
        for (int w = 0; w < workers; w++) {
            grads[w] = new Grads(net);
        }
        List<Param> params = net.params();
        for (int step = start; step < stage.steps(); step++) {
            if (stopAfter >= 0 && step >= stopAfter) {
                return losses;
            }
            long t0 = System.nanoTime();
            Episode[] batch = batch(stage, index, step, factory);
            // The step's loss is the mean over target tokens, or with "loss": "answer" the mean over answers of each
            // answer's mean (the patch stage has no answers: its unit is always the patch).
            boolean perAnswer = stage.perAnswer() && !stage.patches();
            int targets = 0;
            long rows = 0;
            for (Episode e : batch) {
                targets += perAnswer ? e.answerCount() : e.targetCount();
                rows += rows(e, config);
            }
            float scale = 1f / targets;
            double[] lossSums = new double[batch.length];
            Parallel.range(workers, w -> {
                for (int i = w; i < batch.length; i += workers) {
                    lossSums[i] = net.forwardBackward(batch[i], grads[w], scale, perAnswer);
                }
            });
            for (Param p : params) {
                p.zeroGrad();
            }
            for (Grads g : grads) {
                g.drainInto(params);
            }
            double lr = opt.learningRate(opt.steps() + 1);
            double norm = opt.step(params);
            double loss = 0;
            for (double s : lossSums) {
                loss += s;
            }
            loss /= targets;
            losses.add(loss);
            double secs = (System.nanoTime() - t0) / 1e9;
            listener.step(new StepReport(stage.name(), step + 1, stage.steps(), loss, lr, norm, rows / secs, secs));
            boolean last = step + 1 == stage.steps();
            if (last || (step + 1) % stage.checkpointEvery() == 0) {
                save(net, opt, dir, step + 1, losses, last);
            }
        }
        export(net, configJson, tokenizerDir(), dir.resolve("model"));
        listener.message(stage.name() + ": done; model written to " + dir.resolve("model"));
        return losses;
    }

    private AdamW optimizer(Recipe.Stage s) {
        return new AdamW(s.lr(), s.minLr(), 0.9f, s.beta2(), 1e-8f, 0.01f, 1.0f, s.warmup(), s.steps());
    }

    /** Which parameters learn in a stage, and at what rate. */
    private void configure(CogVlmNet net, Recipe.Stage stage) {
        // The language stage trains the language weights on every row, blank image slots included.
        net.setVisualExperts(recipe.deepFusion() && !stage.text());
        for (Param p : net.params()) {
            String n = p.name();
            boolean trainable;
            if (n.startsWith(CogVlmNet.TRAINING_ONLY)) {
                trainable = stage.patches();
            } else if (stage.patches()) {
                trainable = CogVlmNet.isTower(n) || (stage.align() && CogVlmNet.isAdapter(n));
            } else if (stage.text()) {
                trainable = CogVlmNet.isLanguage(n);
            } else if (CogVlmNet.isLanguage(n)) {
                trainable = false;
            } else if (CogVlmNet.isVisualExpert(n)) {
                trainable = recipe.deepFusion();
            } else {
                trainable = true;
            }
            net.configure(n, !trainable, CogVlmNet.isTower(n) ? stage.towerLr()
                    : CogVlmNet.isVisualExpert(n) ? stage.expertsLr() : 1f);
        }
    }

    /** The episodes of step {@code step}: a function of the seed, the stage and the step only. */
    private Episode[] batch(Recipe.Stage stage, int index, int step, EpisodeFactory factory) {
        Episode[] out = new Episode[stage.batch()];
        Parallel.range(out.length, i -> {
            SplittableRandom r = new SplittableRandom(recipe.seed() * 0x9E3779B97F4A7C15L + index * 1_000_003L
                    + (long) step * 4099 + i);
            if (stage.types().contains("slots")) {
                out[i] = factory.slots(r, stage.questions(), stage.weights(), stage.slotNoise());
            } else if (stage.text()) {
                // A stage of both kinds draws one per episode; a stage of one kind draws nothing extra, so a
                // text-only recipe produces the same episodes as before the reading kind existed.
                boolean both = stage.types().size() > 1;
                boolean reading = both ? r.nextBoolean() : stage.types().contains("reading");
                out[i] = reading ? factory.reading(r, stage.questions(), stage.weights(), stage.listing())
                        : factory.text(r, stage.questions());
            } else if (stage.patches()) {
                out[i] = factory.patches(ShapesWorld.scene(r, stage.maxShapes()), stage.places(), stage.align());
            } else {
                Episode e = null;
                while (e == null) {
                    e = factory.image(ShapesWorld.scene(r, stage.maxShapes()), stage.types(), stage.questions(),
                            stage.weights(), r);
                }
                out[i] = e;
            }
        });
        return out;
    }

    private static long rows(Episode e, CogVlmConfig c) {
        long n = 1 + (e.hasImageSlots() ? c.imageTokens() : 0);
        for (Episode.Branch b : e.branches()) {
            n += b.ids().length;
        }
        return n;
    }

    // ---------------------------------------------------------------- state

    private void save(CogVlmNet net, AdamW opt, Path dir, int step, List<Double> losses, boolean done) throws IOException {
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (Param p : net.params()) {
            w.f32(p.name(), p.value(), net.shape(p.name()));
            float[][] m = opt.moments(p.name());
            if (m != null) {
                w.f32("adam.m." + p.name(), m[0], m[0].length);
                w.f32("adam.v." + p.name(), m[1], m[1].length);
            }
        }
        w.metadata("optimizer_steps", Integer.toString(opt.steps()));
        Path tmp = dir.resolve("state.safetensors.tmp");
        w.write(tmp);
        ObjectNode st = JSON.createObjectNode();
        st.put("step", step);
        st.put("done", done);
        ArrayNode l = st.putArray("losses");
        losses.forEach(l::add);
        Path tmpJson = dir.resolve("state.json.tmp");
        Files.writeString(tmpJson, JSON.writeValueAsString(st));
        // Weights first, then the step that names them: a kill between the two moves resumes from older weights
        // with an older step only if the json move did not happen; the json is what declares the state.
        Files.move(tmp, dir.resolve("state.safetensors"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        Files.move(tmpJson, dir.resolve("state.json"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        StringBuilder csv = new StringBuilder("step,loss\n");
        for (int i = 0; i < losses.size(); i++) {
            csv.append(i + 1).append(',').append(losses.get(i)).append('\n');
        }
        Files.writeString(dir.resolve("loss.csv"), csv);
        LossChart.write(List.of(new LossChart.Series(dir.getFileName().toString(), losses)), dir.resolve("loss.png"));
    }

    /** Reads weights (and, when {@code opt} is given, the optimizer state) from a state file. */
    static CogVlmNet loadWeights(CogVlmConfig config, Path file, AdamW opt) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            Map<String, float[]> weights = new HashMap<>();
            Map<String, float[][]> moments = new HashMap<>();
            for (String n : f.entries().keySet()) {
                if (n.startsWith("adam.m.")) {
                    String p = n.substring(7);
                    moments.put(p, new float[][]{f.floats(n), f.floats("adam.v." + p)});
                } else if (!n.startsWith("adam.")) {
                    weights.put(n, f.floats(n));
                }
            }
            CogVlmNet net = CogVlmNet.of(config, weights);
            if (opt != null) {
                opt.restore(Integer.parseInt(f.metadata().getOrDefault("optimizer_steps", "0")), moments);
            }
            return net;
        }
    }

    /**
     * Writes the inference checkpoint: {@code config.json}, {@code model.safetensors} in BF16 with the real tensor
     * names, and the tokenizer files. A shallow-alignment net has no visual experts of its own; it is written with
     * copies of the language weights there, which makes the engine compute exactly what it was trained as.
     */
    public static void export(CogVlmNet net, ObjectNode configJson, Path tokenizerDir, Path dir) throws IOException {
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        SafeTensorsWriter w = new SafeTensorsWriter().metadata("format", "pt");
        for (Param p : net.params()) {
            String name = p.name();
            if (name.startsWith(CogVlmNet.TRAINING_ONLY)) {
                continue;
            }
            float[] v = p.value();
            if (!net.visualExperts() && CogVlmNet.isVisualExpert(name)) {
                v = net.param(name.replace("vision_expert", "language_expert").replace("vision_mlp", "language_mlp")).value();
            }
            w.bf16(name, v, net.shape(name));
        }
        w.write(tmp.resolve("model.safetensors"));
        Files.writeString(tmp.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(configJson));
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
            Files.copy(tokenizerDir.resolve(f), tmp.resolve(f));
        }
        deleteTree(dir);
        Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    /** The trained model folder of a stage. */
    public Path modelDir(String stage) {
        return out.resolve(stage).resolve("model");
    }

    /** Stage names that have finished. */
    public java.util.Set<String> finished() throws IOException {
        java.util.Set<String> done = new HashSet<>();
        for (Recipe.Stage s : recipe.stages()) {
            Path st = out.resolve(s.name()).resolve("state.json");
            if (Files.isRegularFile(st) && JSON.readTree(st.toFile()).path("done").asBoolean(false)) {
                done.add(s.name());
            }
        }
        return done;
    }
}
