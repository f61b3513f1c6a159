package dev.cogvlm4j.train.nn;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW (decoupled weight decay) with bias correction, global-norm gradient clipping, linear warm-up then cosine
 * decay, per-parameter freezing and learning-rate multipliers. Its state (moments, step) can be saved and restored,
 * so a resumed run continues exactly.
 */
public final class AdamW {
    private final float lr;
    private final float minLr;
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final float clipNorm;
    private final int warmup;
    private final int totalSteps;
    private final Map<String, float[][]> moments = new HashMap<>();
    private int step;

    /** An optimizer; {@code clipNorm <= 0} disables clipping. */
    public AdamW(float lr, float minLr, float beta1, float beta2, float eps, float weightDecay, float clipNorm,
                 int warmup, int totalSteps) {
        this.lr = lr;
        this.minLr = minLr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.clipNorm = clipNorm;
        this.warmup = warmup;
        this.totalSteps = totalSteps;
    }

    /** The learning rate at step {@code s} (1-based): linear warm-up, then cosine decay to {@code minLr}. */
    public double learningRate(int s) {
        if (s <= warmup) {
            return lr * (double) s / Math.max(1, warmup);
        }
        double progress = Math.min(1.0, (double) (s - warmup) / Math.max(1, totalSteps - warmup));
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }

    /** Global L2 norm of the trainable gradients. */
    public static double gradNorm(List<Param> params) {
        double s = 0;
        for (Param p : params) {
            if (p.frozen()) {
                continue;
            }
            for (float g : p.grad()) {
                s += (double) g * g;
            }
        }
        return Math.sqrt(s);
    }

    /** Applies one update to every trainable parameter; returns the gradient norm before clipping. */
    public double step(List<Param> params) {
        step++;
        double norm = gradNorm(params);
        double clip = clipNorm > 0 && norm > clipNorm ? clipNorm / (norm + 1e-12) : 1.0;
        double rate = learningRate(step);
        double bc1 = 1 - Math.pow(beta1, step);
        double bc2 = 1 - Math.pow(beta2, step);
        for (Param p : params) {
            if (p.frozen()) {
                continue;
            }
            float[][] m = moments.computeIfAbsent(p.name(), k -> new float[][]{new float[p.value().length], new float[p.value().length]});
            double a = rate * p.lrMultiplier();
            float[] w = p.value();
            float[] g = p.grad();
            for (int i = 0; i < w.length; i++) {
                double gi = g[i] * clip;
                m[0][i] = (float) (beta1 * m[0][i] + (1 - beta1) * gi);
                m[1][i] = (float) (beta2 * m[1][i] + (1 - beta2) * gi * gi);
                double update = (m[0][i] / bc1) / (Math.sqrt(m[1][i] / bc2) + eps);
                if (p.decay()) {
                    w[i] -= (float) (a * weightDecay * w[i]);
                }
                w[i] -= (float) (a * update);
            }
        }
        return norm;
    }

    /** Steps taken. */
    public int steps() {
        return step;
    }

    /** The moments of a parameter ({@code [m, v]}), for checkpoints; null before its first update. */
    public float[][] moments(String name) {
        return moments.get(name);
    }

    /** Restores state saved from {@link #steps()} and {@link #moments}. */
    public void restore(int steps, Map<String, float[][]> saved) {
        step = steps;
        moments.clear();
        saved.forEach((k, v) -> moments.put(k, new float[][]{v[0].clone(), v[1].clone()}));
    }
}
