package dev.cogvlm4j.train.data;

import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.train.model.Episode;
import dev.cogvlm4j.train.nn.Ops;
import dev.cogvlm4j.train.world.Shape;
import dev.cogvlm4j.train.world.ShapesWorld;
import dev.cogvlm4j.vision.ImagePreprocessor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Turns scenes into training episodes: the rendered image preprocessed exactly as inference does it, and each
 * question tokenised in the chat template with its answer and end-of-sequence as the only targets.
 */
public final class EpisodeFactory {
    private final Tokenizer tokenizer;
    private final CogVlmConfig config;

    /** A factory for the given tokenizer and architecture. */
    public EpisodeFactory(Tokenizer tokenizer, CogVlmConfig config) {
        this.tokenizer = tokenizer;
        this.config = config;
    }

    /**
     * Language-model pretraining: {@code branches} pieces of world text, every next token a target. Half are
     * reading-comprehension texts (a scene in words, a question, its answer), half plain transcripts and captions.
     */
    public Episode text(SplittableRandom r, int branches) {
        List<Episode.Branch> out = new ArrayList<>();
        while (out.size() < branches) {
            ShapesWorld.Scene scene = ShapesWorld.scene(r);
            String text;
            if (r.nextBoolean()) {
                List<ShapesWorld.QA> qs = ShapesWorld.questions(scene);
                text = WorldText.reading(scene, qs.get(r.nextInt(qs.size())));
            } else {
                List<String> s = WorldText.sentences(scene);
                text = s.get(r.nextInt(s.size()));
            }
            int[] ids = tokenizer.encode(text);
            int[] targets = new int[ids.length];
            for (int i = 0; i < ids.length; i++) {
                targets[i] = i + 1 < ids.length ? ids[i + 1] : eos();
            }
            out.add(new Episode.Branch(ids, targets));
        }
        // Half the text episodes carry blank image slots (see Episode.blank), half are plain text.
        return r.nextBoolean() ? Episode.blank(out) : new Episode(null, out);
    }

    /**
     * Reading exercises for language-model pretraining: {@code branches} texts, each a scene in words (the caption
     * with boxes) followed by one of its questions, with the answer and end-of-sequence as the only targets. With
     * the loss on the answers alone, the model has to find what the question names in the text before it (an
     * induction mechanism); that is the lookup the frozen model later needs to read image tokens, and plain text,
     * where most tokens are unpredictable captions, teaches it too slowly to show within the budget.
     */
    public Episode reading(SplittableRandom r, int branches) {
        return reading(r, branches, Map.of(), 0);
    }

    /**
     * Reading exercises with the questions drawn by type {@code weights} (see {@link #draw}) and a share
     * {@code listing} of the scenes written as a listing ({@link WorldText#listing}) instead of the caption with
     * boxes. With no weights and no listing this draws exactly what {@link #reading(SplittableRandom, int)} always
     * drew.
     */
    public Episode reading(SplittableRandom r, int branches, Map<String, Double> weights, double listing) {
        List<Episode.Branch> out = new ArrayList<>();
        while (out.size() < branches) {
            ShapesWorld.Scene scene = ShapesWorld.scene(r);
            List<ShapesWorld.QA> qs = ShapesWorld.questions(scene);
            ShapesWorld.QA qa = qs.get(draw(qs, weights, r));
            boolean asListing = listing > 0 && r.nextDouble() < listing;
            String scenePrompt = asListing ? WorldText.listingPrompt(scene, qa.question())
                    : WorldText.readingPrompt(scene, qa.question());
            out.add(answerOnly(scenePrompt, qa.answer()));
        }
        return new Episode(null, out);
    }

    /**
     * Index of a question drawn from {@code qs}: uniformly when {@code weights} is empty (one {@code nextInt}, as
     * before weights existed), else in proportion to its type's weight (1 for a type not named).
     */
    static int draw(List<ShapesWorld.QA> qs, Map<String, Double> weights, SplittableRandom r) {
        if (weights.isEmpty()) {
            return r.nextInt(qs.size());
        }
        double total = 0;
        for (ShapesWorld.QA q : qs) {
            total += weights.getOrDefault(q.type(), 1.0);
        }
        double u = r.nextDouble() * total;
        for (int i = 0; i < qs.size(); i++) {
            u -= weights.getOrDefault(qs.get(i).type(), 1.0);
            if (u < 0) {
                return i;
            }
        }
        return qs.size() - 1;
    }

    /**
     * One scene with up to {@code maxQuestions} of its questions whose type is in {@code types}, drawn without
     * replacement. Returns null when the scene has no question of those types.
     */
    public Episode image(ShapesWorld.Scene scene, Set<String> types, int maxQuestions, SplittableRandom r) {
        return image(scene, types, maxQuestions, Map.of(), r);
    }

    /** As {@link #image(ShapesWorld.Scene, Set, int, SplittableRandom)}, questions drawn by type {@code weights}. */
    public Episode image(ShapesWorld.Scene scene, Set<String> types, int maxQuestions, Map<String, Double> weights,
                         SplittableRandom r) {
        List<ShapesWorld.QA> qs = new ArrayList<>(ShapesWorld.questions(scene).stream()
                .filter(q -> types.contains(q.type())).toList());
        if (qs.isEmpty()) {
            return null;
        }
        return new Episode(pixels(scene), drawBranches(qs, maxQuestions, weights, r));
    }

    /**
     * Up to {@code maxQuestions} of {@code qs} drawn without replacement by type {@code weights} (removed from
     * {@code qs}), each as a question-and-answer branch.
     */
    private List<Episode.Branch> drawBranches(List<ShapesWorld.QA> qs, int maxQuestions, Map<String, Double> weights,
                                              SplittableRandom r) {
        List<Episode.Branch> branches = new ArrayList<>();
        while (!qs.isEmpty() && branches.size() < maxQuestions) {
            ShapesWorld.QA qa = qs.remove(draw(qs, weights, r));
            branches.add(qa(qa.question(), qa.answer()));
        }
        return branches;
    }

    /** Least share of a patch's pixels an object must cover to be that patch's label. */
    static final double MIN_COVER = 0.08;

    /**
     * The tower's pretraining example for a scene: the image, and for each patch of the tower's grid the object
     * covering most of its pixels (at least {@link #MIN_COVER} of them, else none) with that object's box.
     */
    public Episode patches(ShapesWorld.Scene scene) {
        return patches(scene, false);
    }

    /** As {@link #patches(ShapesWorld.Scene)}, the box's coordinates also as places when {@code places}. */
    public Episode patches(ShapesWorld.Scene scene, boolean places) {
        return patches(scene, places, false);
    }

    /**
     * As {@link #patches(ShapesWorld.Scene, boolean)}; with {@code align} the adapter's image rows must also
     * reproduce the scene's {@link SceneSlots} rows.
     */
    public Episode patches(ShapesWorld.Scene scene, boolean places, boolean align) {
        int grid = config.vision().grid();
        Shape[] cover = covering(scene, grid);
        int n = cover.length;
        int[] kind = new int[n];
        int[] colour = new int[n];
        float[] box = new float[4 * n];
        float side = ShapesWorld.SIZE;
        for (int i = 0; i < n; i++) {
            Shape best = cover[i];
            kind[i] = best == null ? Episode.PatchTargets.KINDS - 1 : best.kind().ordinal();
            colour[i] = best == null ? Episode.PatchTargets.COLOURS - 1 : best.colour().ordinal();
            if (best != null) {
                box[4 * i] = best.x0() / side;
                box[4 * i + 1] = best.y0() / side;
                box[4 * i + 2] = best.x1() / side;
                box[4 * i + 3] = best.y1() / side;
            }
        }
        float[] slots = align ? SceneSlots.rows(scene, grid, config.hiddenSize()) : null;
        return new Episode(pixels(scene), List.of(), new Episode.PatchTargets(kind, colour, box, places, slots));
    }

    /**
     * For each patch of a {@code grid × grid} tower grid (row-major), the object covering most of its pixels (at
     * least {@link #MIN_COVER} of them), or null.
     */
    static Shape[] covering(ShapesWorld.Scene scene, int grid) {
        Shape[] out = new Shape[grid * grid];
        for (int gy = 0; gy < grid; gy++) {
            for (int gx = 0; gx < grid; gx++) {
                int x0 = gx * ShapesWorld.SIZE / grid;
                int x1 = (gx + 1) * ShapesWorld.SIZE / grid;
                int y0 = gy * ShapesWorld.SIZE / grid;
                int y1 = (gy + 1) * ShapesWorld.SIZE / grid;
                Shape best = null;
                int most = (int) Math.ceil(MIN_COVER * (x1 - x0) * (y1 - y0)) - 1;
                for (Shape s : scene.shapes()) {
                    int covered = 0;
                    for (int y = Math.max(y0, s.y0()); y < Math.min(y1, s.y1()); y++) {
                        for (int x = Math.max(x0, s.x0()); x < Math.min(x1, s.x1()); x++) {
                            covered += ShapesWorld.covers(s, x, y) ? 1 : 0;
                        }
                    }
                    if (covered > most) {
                        most = covered;
                        best = s;
                    }
                }
                out[gy * grid + gx] = best;
            }
        }
        return out;
    }

    /**
     * Reading the scene from the image slots, for language-model pretraining: a scene's {@link SceneSlots} rows
     * (plus Gaussian noise of spread {@code noise}, so the reader tolerates the adapter's imprecision later) in the
     * slots, and up to {@code maxQuestions} of its questions drawn by type {@code weights}, each answer (and
     * end-of-sequence) the only targets.
     */
    public Episode slots(SplittableRandom r, int maxQuestions, Map<String, Double> weights, double noise) {
        ShapesWorld.Scene scene = ShapesWorld.scene(r);
        float[] rows = SceneSlots.rows(scene, config.vision().grid(), config.hiddenSize());
        if (noise > 0) {
            for (int i = 0; i < rows.length; i++) {
                rows[i] += (float) (noise * Ops.gaussian(r));
            }
        }
        return Episode.slots(rows, drawBranches(new ArrayList<>(ShapesWorld.questions(scene)), maxQuestions, weights, r));
    }

    /** The image as the vision tower receives it. */
    public float[] pixels(ShapesWorld.Scene scene) {
        return ImagePreprocessor.prepare(ShapesWorld.render(scene), config.vision().imageSize(), 0).pixelValues();
    }

    /** A question and its answer: the prompt's positions have no target, the answer's tokens and eos do. */
    public Episode.Branch qa(String question, String answer) {
        return answerOnly(WorldText.prompt(question), answer);
    }

    /** {@code prompt + " " + answer} with targets on the answer's tokens and eos only. */
    private Episode.Branch answerOnly(String prompt, String answer) {
        int[] p = tokenizer.encode(prompt);
        int[] full = tokenizer.encode(prompt + " " + answer);
        if (full.length <= p.length || !Arrays.equals(p, Arrays.copyOf(full, p.length))) {
            throw new IllegalStateException("the prompt's tokens are not a prefix of the full text's: " + prompt);
        }
        int[] targets = new int[full.length];
        Arrays.fill(targets, -1);
        for (int i = p.length - 1; i < full.length; i++) {
            targets[i] = i + 1 < full.length ? full[i + 1] : eos();
        }
        return new Episode.Branch(full, targets);
    }

    private int eos() {
        return config.eosIds()[0];
    }
}
