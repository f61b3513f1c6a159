package dev.cogvlm4j.train.data;

import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.train.model.Episode;
import dev.cogvlm4j.train.world.ShapesWorld;
import dev.cogvlm4j.vision.ImagePreprocessor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
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
     * One scene with up to {@code maxQuestions} of its questions whose type is in {@code types}, drawn without
     * replacement. Returns null when the scene has no question of those types.
     */
    public Episode image(ShapesWorld.Scene scene, Set<String> types, int maxQuestions, SplittableRandom r) {
        List<ShapesWorld.QA> qs = new ArrayList<>(ShapesWorld.questions(scene).stream()
                .filter(q -> types.contains(q.type())).toList());
        if (qs.isEmpty()) {
            return null;
        }
        List<Episode.Branch> branches = new ArrayList<>();
        while (!qs.isEmpty() && branches.size() < maxQuestions) {
            ShapesWorld.QA qa = qs.remove(r.nextInt(qs.size()));
            branches.add(qa(qa.question(), qa.answer()));
        }
        return new Episode(pixels(scene), branches);
    }

    /** The image as the vision tower receives it. */
    public float[] pixels(ShapesWorld.Scene scene) {
        return ImagePreprocessor.prepare(ShapesWorld.render(scene), config.vision().imageSize(), 0).pixelValues();
    }

    /** A question and its answer: the prompt's positions have no target, the answer's tokens and eos do. */
    public Episode.Branch qa(String question, String answer) {
        String prompt = WorldText.prompt(question);
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
