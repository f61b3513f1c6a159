package dev.cogvlm4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.GenerationOptions;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.text.Tokenizers;
import dev.cogvlm4j.train.data.SceneSlots;
import dev.cogvlm4j.train.data.WorldText;
import dev.cogvlm4j.train.model.CogVlmNet;
import dev.cogvlm4j.train.model.Episode;
import dev.cogvlm4j.train.world.ShapesWorld;
import dev.cogvlm4j.vision.RgbImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Scores a model on fresh scenes of the shapes world through the inference engine (greedy decoding, the chat
 * template), exactly as a user would run it: every question each scene defines, answers compared verbatim, and
 * {@code Where is} answers scored by the intersection-over-union of the first box with the true box.
 */
public final class Evaluator {
    private static final Pattern BOX = Pattern.compile("\\[\\[(\\d{1,3}),(\\d{1,3}),(\\d{1,3}),(\\d{1,3})]]");

    /**
     * Per question type: how many were asked and how many answered right, in total and by scene size.
     *
     * @param images   scenes evaluated
     * @param seed     the scenes' seed
     * @param failures a few wrong answers, for reading
     * @param byShapes per type (in the order first asked), asked and right answers (grounding: IoU at least 0.5) by
     *                 the number of shapes in the scene: {@code byShapes.get(type)[n] = {asked, correct}} for
     *                 {@code n} = 1..{@link ShapesWorld#MAX_SHAPES}
     */
    public record Report(int images, long seed, List<String> failures, Map<String, int[][]> byShapes) {
        /** Questions asked per type. */
        public Map<String, Integer> asked() {
            return total(0);
        }

        /** Right answers per type. */
        public Map<String, Integer> correct() {
            return total(1);
        }

        private Map<String, Integer> total(int column) {
            Map<String, Integer> out = new LinkedHashMap<>();
            byShapes.forEach((type, cells) -> {
                int sum = 0;
                for (int[] cell : cells) {
                    sum += cell[column];
                }
                out.put(type, sum);
            });
            return out;
        }

        /** Accuracy of one type (NaN when none was asked). */
        public double accuracy(String type) {
            int n = asked().getOrDefault(type, 0);
            return n == 0 ? Double.NaN : (double) correct().getOrDefault(type, 0) / n;
        }

        /** Accuracy over count, colour and shape questions together. */
        public double attributes() {
            Map<String, Integer> asked = asked();
            Map<String, Integer> correct = correct();
            int n = 0;
            int c = 0;
            for (String t : List.of("count", "colour", "shape")) {
                n += asked.getOrDefault(t, 0);
                c += correct.getOrDefault(t, 0);
            }
            return n == 0 ? Double.NaN : (double) c / n;
        }
    }

    private Evaluator() {
    }

    /** Asks every question of {@code images} scenes drawn from {@code seed}; {@code progress} gets the image index. */
    public static Report evaluate(CogVlm model, long seed, int images, IntConsumer progress) {
        return evaluate(model, seed, images, ScenesAs.IMAGES, progress);
    }

    /** How the scenes reach the model, and the name {@code evaluate --json} gives that ({@code scenes_as}). */
    public enum ScenesAs {
        /** Rendered images, asked in the {@code chat} template. */
        IMAGES("images"),
        /** In words: the caption with boxes, then the prompt ({@link WorldText#readingPrompt}). */
        CAPTION("text"),
        /** In words: the listing, each shape's word then its colour's ({@link WorldText#listingPrompt}). */
        LISTING("listing"),
        /**
         * Written into the image slots ({@link SceneSlots}) and read through the language weights, as a {@code slots}
         * stage trains the language model; see {@link #evaluateSlots}.
         */
        SLOTS("slots");

        private final String label;

        ScenesAs(String label) {
            this.label = label;
        }

        /** The name in {@code evaluate --json}. */
        public String label() {
            return label;
        }
    }

    /**
     * As {@link #evaluate(CogVlm, long, int, IntConsumer)}; scenes {@code as} words are given as text instead
     * of images (the caption with boxes or the listing, then the chat prompt, under the {@code base} template), the reading
     * exercise a language model must pass before visual experts can teach it to read the same facts from image
     * tokens. Same scenes, questions and scoring either way.
     */
    public static Report evaluate(CogVlm model, long seed, int images, ScenesAs as, IntConsumer progress) {
        if (as == ScenesAs.SLOTS) {
            throw new IllegalArgumentException("scenes in the image slots are read by evaluateSlots, from the model's folder");
        }
        GenerationOptions greedy = GenerationOptions.greedy(128, false);
        return evaluate(seed, images, progress, (scene, image, qa) -> {
            Question q = switch (as) {
                case IMAGES -> Question.of(qa.question(), image);
                case CAPTION -> new Question(WorldText.readingPrompt(scene, qa.question()), List.of(), null, "base");
                case LISTING -> new Question(WorldText.listingPrompt(scene, qa.question()), List.of(), null, "base");
                case SLOTS -> throw new AssertionError();
            };
            return model.ask(q, greedy, null).text();
        }, as == ScenesAs.IMAGES);
    }

    /**
     * As {@link #evaluate(CogVlm, long, int, ScenesAs, IntConsumer)} with the scenes written into the image slots
     * ({@link SceneSlots}) instead of shown: the reading test of a language model trained by a {@code slots} stage.
     * The model folder's weights run in the trainer's own forward pass, every row through the language weights as in
     * that stage, decoding greedily (at most 128 tokens) in the chat template.
     */
    public static Report evaluateSlots(Path modelDir, long seed, int images, IntConsumer progress) throws IOException {
        if (!java.nio.file.Files.isRegularFile(modelDir.resolve("config.json"))
                || !java.nio.file.Files.isRegularFile(modelDir.resolve("model.safetensors"))) {
            throw new IllegalArgumentException(modelDir + ": scenes in the slots are read from a model folder "
                    + "(config.json and model.safetensors), as the trainer exports it");
        }
        CogVlmConfig config = CogVlmConfig.parse(new ObjectMapper().readTree(modelDir.resolve("config.json").toFile()),
                Set.of());
        if (config.hiddenSize() < SceneSlots.WIDTH) {
            throw new IllegalArgumentException(modelDir + ": hidden size " + config.hiddenSize()
                    + " is too narrow for the scene's slot rows (" + SceneSlots.WIDTH + ")");
        }
        Tokenizer tok = Tokenizers.load(modelDir);
        CogVlmNet net = Trainer.loadWeights(config, modelDir.resolve("model.safetensors"), null);
        net.setVisualExperts(false);
        int eos = config.eosIds()[0];
        return evaluate(seed, images, progress, (scene, image, qa) -> {
            float[] rows = SceneSlots.rows(scene, config.vision().grid(), config.hiddenSize());
            int[] prompt = tok.encode(WorldText.prompt(qa.question()));
            int[] ids = java.util.Arrays.copyOf(prompt, prompt.length + 128);
            int n = prompt.length;
            while (n < ids.length) {
                int[] x = java.util.Arrays.copyOf(ids, n);
                int[] targets = new int[n];
                java.util.Arrays.fill(targets, -1);
                targets[n - 1] = 0;
                float[] logits = net.logits(Episode.slots(rows, List.of(new Episode.Branch(x, targets))));
                int best = dev.cogvlm4j.model.Sampler.argmax(logits);
                if (best == eos) {
                    break;
                }
                ids[n++] = best;
            }
            int[] answer = java.util.Arrays.copyOfRange(ids, prompt.length, n);
            return tok.decode(answer, answer.length, true, false);
        }, false);
    }

    /** One answer to a question about a scene ({@code image} is its rendering when the caller asked for one). */
    private interface Answerer {
        String answer(ShapesWorld.Scene scene, RgbImage image, ShapesWorld.QA qa);
    }

    private static Report evaluate(long seed, int images, IntConsumer progress, Answerer answerer, boolean render) {
        SplittableRandom r = new SplittableRandom(seed);
        List<String> failures = new java.util.ArrayList<>();
        Map<String, int[][]> byShapes = new LinkedHashMap<>();
        for (int i = 0; i < images; i++) {
            ShapesWorld.Scene scene = ShapesWorld.scene(r);
            RgbImage image = render ? ShapesWorld.render(scene) : null;
            for (ShapesWorld.QA qa : ShapesWorld.questions(scene)) {
                String got = answerer.answer(scene, image, qa).strip();
                boolean ok = qa.type().equals("grounding") ? iou(got, qa.answer()) >= 0.5 : got.equals(qa.answer());
                int[] cell = byShapes.computeIfAbsent(qa.type(), t -> new int[ShapesWorld.MAX_SHAPES + 1][2])
                        [scene.shapes().size()];
                cell[0]++;
                cell[1] += ok ? 1 : 0;
                if (!ok && failures.size() < 20) {
                    failures.add(String.format(Locale.ROOT, "image %d: %s -> \"%s\" (expected \"%s\")", i, qa.question(), got,
                            qa.answer()));
                }
            }
            if (progress != null) {
                progress.accept(i + 1);
            }
        }
        return new Report(images, seed, failures, byShapes);
    }

    /** Intersection over union of the first box in {@code got} with the box in {@code expected}; 0 without a box. */
    public static double iou(String got, String expected) {
        int[] a = box(got);
        int[] b = box(expected);
        if (a == null || b == null) {
            return 0;
        }
        double ix = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
        double iy = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
        double inter = ix * iy;
        double union = area(a) + area(b) - inter;
        return union <= 0 ? 0 : inter / union;
    }

    private static double area(int[] b) {
        return Math.max(0, b[2] - b[0]) * (double) Math.max(0, b[3] - b[1]);
    }

    private static int[] box(String s) {
        Matcher m = BOX.matcher(s);
        if (!m.find()) {
            return null;
        }
        return new int[]{Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                Integer.parseInt(m.group(4))};
    }

    /** The report as a Markdown table row: caption, with boxes, count, colour, shape, attributes, grounding. */
    public static String markdownRow(String label, Report r) {
        return String.format(Locale.ROOT, "| %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% |", label,
                100 * r.accuracy("caption"), 100 * r.accuracy("caption_boxes"), 100 * r.accuracy("count"),
                100 * r.accuracy("colour"), 100 * r.accuracy("shape"), 100 * r.attributes(), 100 * r.accuracy("grounding"));
    }

    /** The header matching {@link #markdownRow}. */
    public static String markdownHeader() {
        return "| model | caption exact | caption with boxes exact | count | colour | shape | count+colour+shape | grounding IoU>=0.5 |\n"
                + "|---|---|---|---|---|---|---|---|";
    }

    /**
     * Compares two models on text-only prompts of the world: returns how many of {@code prompts} prompts give
     * bit-identical logits at every position. With the language model frozen during vision training, all must.
     * Both models first run the prompts a few times, so logits are compared between warmed-up kernels, as a serving
     * process runs them.
     */
    public static int identicalTextLogits(CogVlm a, CogVlm b, long seed, int prompts) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Question> qs = new java.util.ArrayList<>();
        for (int i = 0; i < prompts; i++) {
            List<ShapesWorld.QA> all = ShapesWorld.questions(ShapesWorld.scene(r));
            qs.add(new Question(all.get(r.nextInt(all.size())).question(), List.of(), null, null));
        }
        for (int round = 0; round < 3; round++) {
            for (Question q : qs) {
                a.model().newSession().prefill(a.input(q), null, true);
                b.model().newSession().prefill(b.input(q), null, true);
            }
        }
        int same = 0;
        for (Question q : qs) {
            float[] la = a.model().newSession().prefill(a.input(q), null, true);
            float[] lb = b.model().newSession().prefill(b.input(q), null, true);
            boolean eq = la.length == lb.length;
            for (int j = 0; eq && j < la.length; j++) {
                eq = Float.floatToRawIntBits(la[j]) == Float.floatToRawIntBits(lb[j]);
            }
            same += eq ? 1 : 0;
        }
        return same;
    }
}
