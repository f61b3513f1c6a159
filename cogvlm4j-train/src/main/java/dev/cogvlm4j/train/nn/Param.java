package dev.cogvlm4j.train.nn;

/**
 * A trainable tensor: its values, its gradient, and how the optimizer treats it.
 *
 * @param name         checkpoint name
 * @param value        the weights
 * @param grad         accumulated gradient (same length)
 * @param frozen       excluded from updates (e.g. the language model while visual experts train)
 * @param lrMultiplier scales the learning rate (e.g. 0.1 for the vision tower in instruction tuning)
 * @param decay        whether weight decay applies (not to norms and biases)
 */
public record Param(String name, float[] value, float[] grad, boolean frozen, float lrMultiplier, boolean decay) {
    /** A trainable parameter with decay and the base learning rate. */
    public static Param of(String name, float[] value) {
        return new Param(name, value, new float[value.length], false, 1f, true);
    }

    /** A copy with the given freezing. */
    public Param frozen(boolean f) {
        return new Param(name, value, grad, f, lrMultiplier, decay);
    }

    /** A copy with the given learning-rate multiplier. */
    public Param withLrMultiplier(float m) {
        return new Param(name, value, grad, frozen, m, decay);
    }

    /** A copy without weight decay. */
    public Param withoutDecay() {
        return new Param(name, value, grad, frozen, lrMultiplier, false);
    }

    /** Zeroes the gradient. */
    public void zeroGrad() {
        java.util.Arrays.fill(grad, 0f);
    }
}
