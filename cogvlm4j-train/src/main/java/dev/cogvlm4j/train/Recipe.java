package dev.cogvlm4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.train.data.SceneSlots;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A training recipe: the architecture, the tokenizer's budget and the stages in order, read from a JSON file. The
 * recipe is the whole input of a run: data, initialisation and schedule all derive from it.
 *
 * @param seed       the seed every random choice derives from
 * @param deepFusion visual experts in every layer (true) or shallow alignment (image rows through language weights)
 * @param tokenizerScenes scenes whose text the tokenizer learns from
 * @param tokenizerMerges merges learned at most
 * @param tokenizerSplitsPunctuation no merge joins letters with punctuation ({@code "split_punctuation"}), so
 *                   {@code circle?}, {@code circle,} and {@code circle [[} all share the word's token
 * @param tokenizerPhrases each colour-and-shape phrase is one token ({@code "phrases"}), so a question names an
 *                   object with one token
 * @param model      {@code config.json} fields of the model (vocab size and special ids are filled in)
 * @param stages     the stages in order
 * @param threads    data-parallel workers (0: the engine's pool size)
 */
public record Recipe(long seed, boolean deepFusion, int tokenizerScenes, int tokenizerMerges,
                     boolean tokenizerSplitsPunctuation, boolean tokenizerPhrases, ObjectNode model,
                     List<Stage> stages, int threads) {

    /**
     * One stage.
     *
     * @param name            its name (the folder of its outputs)
     * @param types           question types trained on; {@code text} and {@code reading} (either or both), or
     *                        {@code slots} alone (the scene written into the image slots, see {@code SceneSlots}),
     *                        for language-model pretraining, or {@code patches} for the vision tower's own
     *                        pretraining on per-patch labels
     * @param steps           optimizer steps
     * @param batch           episodes per step (images, or text episodes)
     * @param questions       questions (branches) per episode
     * @param lr              peak learning rate
     * @param minLr           final learning rate of the cosine decay
     * @param warmup          warm-up steps
     * @param towerLr         learning-rate multiplier of the vision tower (0.1 in instruction tuning)
     * @param expertsLr       learning-rate multiplier of the visual experts (which start as copies of trained
     *                        language weights, so may need a gentler rate than the parts learned from scratch)
     * @param checkpointEvery steps between checkpoints
     * @param beta2           AdamW's second-moment decay
     * @param maxShapes       most shapes per training scene (a curriculum may start below the world's four)
     * @param weights         relative weight of each question type when questions are drawn ({@code "weights"};
     *                        a type not named weighs 1; empty: every question of a scene is equally likely, as
     *                        before weights existed)
     * @param listing         share of reading exercises whose scene is written as a listing, each shape's word
     *                        followed by its colour's ({@code circle red [[...]], square blue [[...]].}), instead
     *                        of the caption with boxes ({@code "listing"}, 0 to 1)
     * @param perAnswer       the loss is the mean over answers of each answer's mean cross-entropy
     *                        ({@code "loss": "answer"}), so a one-token colour weighs as much as a caption with
     *                        boxes; otherwise ({@code "token"}, the default) the mean over all answer tokens
     * @param places          in a {@code patches} stage, whether each box coordinate is also learned as one of 100
     *                        places, the first two digits of the answers' 0-999 scale ({@code "places"})
     * @param align           in a {@code patches} stage, whether the adapter also learns to write the scene's slot
     *                        rows ({@code "align"}), the rows a {@code slots} stage taught the language model to read
     * @param slotNoise       in a {@code slots} stage, the spread of the Gaussian noise added to the slot rows
     *                        ({@code "noise"}, default 0.1)
     */
    public record Stage(String name, Set<String> types, int steps, int batch, int questions, float lr, float minLr,
                        int warmup, float towerLr, float expertsLr, int checkpointEvery, float beta2, int maxShapes,
                        Map<String, Double> weights, double listing, boolean perAnswer, boolean places,
                        boolean align, double slotNoise) {
        /** Whether this is a language-model stage ({@code text}, {@code reading} or both, or {@code slots}). */
        public boolean text() {
            return types.stream().anyMatch(LANGUAGE_TYPES::contains);
        }

        /** Whether this stage pretrains the vision tower alone on per-patch labels. */
        public boolean patches() {
            return types.contains("patches");
        }
    }

    /** The types of a language-model stage, which may be mixed with each other but with nothing else. */
    static final Set<String> LANGUAGE_TYPES = Set.of("text", "reading", "slots");

    /** The world's question types (what {@code "weights"} may name). */
    static final Set<String> QUESTION_TYPES = Set.of("caption", "caption_boxes", "count", "colour", "shape", "grounding");

    /** The question types a stage may name. */
    public static final Set<String> TYPES = Set.of("text", "reading", "slots", "patches", "caption", "caption_boxes", "count", "colour", "shape", "grounding");

    /** Reads and validates a recipe file; problems are reported as one-line {@link IllegalArgumentException}s. */
    public static Recipe load(Path file) throws IOException {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage());
        }
        return parse(root, file.toString());
    }

    /** Parses a recipe. */
    public static Recipe parse(JsonNode root, String source) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(source + ": not a JSON object");
        }
        JsonNode model = root.get("model");
        if (model == null || !model.isObject() || !model.path("vision_config").isObject()) {
            throw new IllegalArgumentException(source + ": needs a \"model\" object with a \"vision_config\"");
        }
        String fusion = root.path("fusion").asText("deep");
        if (!fusion.equals("deep") && !fusion.equals("shallow")) {
            throw new IllegalArgumentException(source + ": fusion must be \"deep\" or \"shallow\", not \"" + fusion + "\"");
        }
        List<Stage> stages = new ArrayList<>();
        for (JsonNode s : root.path("stages")) {
            String name = s.path("name").asText("");
            if (!name.matches("[A-Za-z0-9_-]+")) {
                throw new IllegalArgumentException(source + ": every stage needs a name of letters, digits, - or _");
            }
            Set<String> types = new LinkedHashSet<>();
            for (JsonNode t : s.path("types")) {
                if (!TYPES.contains(t.asText())) {
                    throw new IllegalArgumentException(source + ": stage " + name + ": unknown type \"" + t.asText()
                            + "\"; use " + String.join(", ", new java.util.TreeSet<>(TYPES)));
                }
                types.add(t.asText());
            }
            boolean language = types.stream().anyMatch(LANGUAGE_TYPES::contains);
            if (types.isEmpty() || (language && !LANGUAGE_TYPES.containsAll(types))
                    || ((types.contains("patches") || types.contains("slots")) && types.size() > 1)) {
                throw new IllegalArgumentException(source + ": stage " + name
                        + ": types must be text and/or reading, [\"slots\"], [\"patches\"], or image question types");
            }
            int steps = positive(s, "steps", source, name);
            double lr = rate(s, "lr", 1e-3, source, name);
            stages.add(new Stage(name, types, steps, positive(s, "batch", source, name),
                    positive(s, "questions", source, name), (float) lr, (float) rate(s, "min_lr", lr * 0.1, source, name),
                    s.path("warmup").asInt(Math.min(50, steps / 10)), (float) rate(s, "tower_lr", 1.0, source, name),
                    (float) rate(s, "experts_lr", 1.0, source, name),
                    s.path("checkpoint_every").asInt(25), (float) s.path("beta2").asDouble(0.95),
                    s.path("max_shapes").asInt(4), weights(s, source, name), share(s, "listing", source, name),
                    lossUnit(s, source, name), flag(s, "places", "patches", types, source, name),
                    flag(s, "align", "patches", types, source, name), noise(s, types, source, name)));
        }
        int hidden = model.path("hidden_size").asInt(0);
        for (Stage st : stages) {
            if ((st.align() || st.types().contains("slots")) && hidden < SceneSlots.WIDTH) {
                throw new IllegalArgumentException(source + ": stage " + st.name() + ": the scene's slot rows need a hidden_size of at least "
                        + SceneSlots.WIDTH + ", not " + hidden);
            }
        }
        if (stages.isEmpty()) {
            throw new IllegalArgumentException(source + ": no stages");
        }
        if (stages.stream().map(Stage::name).distinct().count() != stages.size()) {
            throw new IllegalArgumentException(source + ": stage names must be unique");
        }
        for (String flag : new String[]{"split_punctuation", "phrases"}) {
            JsonNode v = root.path("tokenizer").get(flag);
            if (v != null && !v.isBoolean()) {
                throw new IllegalArgumentException(source + ": tokenizer." + flag + " must be true or false, not " + v);
            }
        }
        JsonNode threads = root.get("threads");
        if (threads != null && (!threads.canConvertToInt() || !threads.isIntegralNumber() || threads.asInt() < 0
                || threads.asInt() > 1024)) {
            throw new IllegalArgumentException(source + ": threads must be a whole number from 0 (the engine's pool) to 1024, not "
                    + threads);
        }
        return new Recipe(root.path("seed").asLong(1), fusion.equals("deep"), root.path("tokenizer").path("scenes").asInt(2000),
                root.path("tokenizer").path("merges").asInt(150),
                root.path("tokenizer").path("split_punctuation").asBoolean(false),
                root.path("tokenizer").path("phrases").asBoolean(false), (ObjectNode) model, List.copyOf(stages),
                root.path("threads").asInt(0));
    }

    /** A learning rate or multiplier: a finite number, zero or more (zero holds those weights still). */
    private static double rate(JsonNode s, String key, double fallback, String source, String stage) {
        JsonNode v = s.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isNumber() || !Double.isFinite(v.asDouble()) || v.asDouble() < 0 || v.asDouble() > 1e3) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"" + key
                    + "\" must be a number from 0 to 1000, not " + v);
        }
        return v.asDouble();
    }

    /** The question types' weights: an object of known question types to positive finite numbers. */
    private static Map<String, Double> weights(JsonNode s, String source, String stage) {
        JsonNode w = s.get("weights");
        if (w == null) {
            return Map.of();
        }
        if (!w.isObject()) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"weights\" must be an object of question types to numbers");
        }
        Map<String, Double> out = new java.util.TreeMap<>();
        for (var e : w.properties()) {
            if (!QUESTION_TYPES.contains(e.getKey())) {
                throw new IllegalArgumentException(source + ": stage " + stage + ": \"weights\" names \"" + e.getKey()
                        + "\", not a question type; use " + String.join(", ", new java.util.TreeSet<>(QUESTION_TYPES)));
            }
            double v = e.getValue().asDouble(Double.NaN);
            if (!e.getValue().isNumber() || !Double.isFinite(v) || v <= 0 || v > 1e6) {
                throw new IllegalArgumentException(source + ": stage " + stage + ": the weight of " + e.getKey()
                        + " must be a number above 0 and at most 1000000, not " + e.getValue());
            }
            out.put(e.getKey(), v);
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    /** {@code "loss"}: {@code "answer"} (true) or {@code "token"} (false, the default). */
    private static boolean lossUnit(JsonNode s, String source, String stage) {
        JsonNode v = s.get("loss");
        if (v == null) {
            return false;
        }
        if (v.isTextual() && (v.asText().equals("token") || v.asText().equals("answer"))) {
            return v.asText().equals("answer");
        }
        throw new IllegalArgumentException(source + ": stage " + stage + ": \"loss\" must be \"token\" or \"answer\", not " + v);
    }

    /** A flag {@code key}: true or false (false when absent), and true only in a stage of type {@code type}. */
    private static boolean flag(JsonNode s, String key, String type, Set<String> types, String source, String stage) {
        JsonNode v = s.get(key);
        if (v == null) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"" + key + "\" must be true or false, not " + v);
        }
        if (v.asBoolean() && !types.contains(type)) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"" + key + "\" applies only to a " + type + " stage");
        }
        return v.asBoolean();
    }

    /** {@code "noise"}: the slot rows' noise, a number from 0 to 1 (0.1 when absent), and only in a {@code slots} stage. */
    private static double noise(JsonNode s, Set<String> types, String source, String stage) {
        JsonNode v = s.get("noise");
        if (v == null) {
            return 0.1;
        }
        if (!types.contains("slots")) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"noise\" applies only to a slots stage");
        }
        return share(s, "noise", source, stage);
    }

    /** A share from 0 to 1 (0 when absent). */
    private static double share(JsonNode s, String key, String source, String stage) {
        JsonNode v = s.get(key);
        if (v == null) {
            return 0;
        }
        if (!v.isNumber() || !(v.asDouble() >= 0 && v.asDouble() <= 1)) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"" + key + "\" must be a number from 0 to 1, not " + v);
        }
        return v.asDouble();
    }

    private static int positive(JsonNode s, String key, String source, String stage) {
        int v = s.path(key).asInt(0);
        if (v <= 0) {
            throw new IllegalArgumentException(source + ": stage " + stage + ": \"" + key + "\" must be a positive integer");
        }
        return v;
    }

    /** The stage of that name. */
    public Stage stage(String name) {
        return stages.stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("no stage \"" + name + "\" in the recipe; it has "
                        + String.join(", ", stages.stream().map(Stage::name).toList())));
    }

    /** Index of a stage. */
    public int indexOf(Stage s) {
        return stages.indexOf(s);
    }

    /** The recipe with another fusion (for the experiment's second arm). */
    public Recipe withFusion(boolean deep) {
        return new Recipe(seed, deep, tokenizerScenes, tokenizerMerges, tokenizerSplitsPunctuation, tokenizerPhrases,
                model, stages, threads);
    }
}
