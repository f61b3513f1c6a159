package dev.cogvlm4j.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses the next token from logits in the order HuggingFace's {@code generate} applies its processors:
 * repetition penalty, then temperature, top-k and top-p, then a draw (or argmax when greedy).
 */
public final class Sampler {
    private final GenerationOptions options;
    private final SplittableRandom random;

    /** A sampler seeded from the options. */
    public Sampler(GenerationOptions options) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
    }

    /** Picks a token; {@code seen} lists the ids already in the sequence (for the repetition penalty). */
    public int pick(float[] logits, int[] seen, int seenCount) {
        float[] l = logits;
        if (options.repetitionPenalty() != 1f) {
            l = logits.clone();
            boolean[] done = new boolean[l.length];
            for (int i = 0; i < seenCount; i++) {
                int t = seen[i];
                if (t >= 0 && t < l.length && !done[t]) {
                    done[t] = true;
                    l[t] = l[t] < 0 ? l[t] * options.repetitionPenalty() : l[t] / options.repetitionPenalty();
                }
            }
        }
        if (options.greedy()) {
            return argmax(l);
        }
        int v = l.length;
        Integer[] order = new Integer[v];
        for (int i = 0; i < v; i++) {
            order[i] = i;
        }
        float[] scaled = new float[v];
        for (int i = 0; i < v; i++) {
            scaled[i] = l[i] / options.temperature();
        }
        Arrays.sort(order, (a, b) -> Float.compare(scaled[b], scaled[a]));
        int keep = v;
        if (options.topK() > 0 && options.topK() < v) {
            // Like HF, ties with the k-th score survive.
            float kth = scaled[order[options.topK() - 1]];
            keep = options.topK();
            while (keep < v && scaled[order[keep]] >= kth) {
                keep++;
            }
        }
        double max = scaled[order[0]];
        double[] probs = new double[keep];
        double sum = 0;
        for (int i = 0; i < keep; i++) {
            probs[i] = Math.exp(scaled[order[i]] - max);
            sum += probs[i];
        }
        if (options.topP() < 1f) {
            double cum = 0;
            int cut = keep;
            for (int i = 0; i < keep; i++) {
                cum += probs[i] / sum;
                if (cum >= options.topP()) {
                    cut = i + 1;
                    break;
                }
            }
            keep = cut;
            sum = 0;
            for (int i = 0; i < keep; i++) {
                sum += probs[i];
            }
        }
        double r = random.nextDouble() * sum;
        for (int i = 0; i < keep; i++) {
            r -= probs[i];
            if (r <= 0) {
                return order[i];
            }
        }
        return order[keep - 1];
    }

    /** Index of the largest value; the first one on ties, as torch.argmax. */
    public static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }
}
