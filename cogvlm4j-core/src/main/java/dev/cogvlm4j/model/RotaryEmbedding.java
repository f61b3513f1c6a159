package dev.cogvlm4j.model;

/**
 * Llama's rotary embedding over the full head dimension, first half against second half, with frequencies
 * {@code 1/θ^(2i/d)} in float32 as the reference computes them in fp32 mode.
 */
final class RotaryEmbedding {
    private final float[] invFreq;
    private final int dim;

    RotaryEmbedding(int dim, double theta) {
        this.dim = dim;
        invFreq = new float[dim / 2];
        for (int i = 0; i < dim / 2; i++) {
            float exponent = (float) (2 * i) / dim;
            invFreq[i] = 1f / (float) Math.pow(theta, exponent);
        }
    }

    /** Fills {@code cos}/{@code sin [d]} for one position: the frequency table repeated for both halves. */
    void table(int position, float[] cos, float[] sin) {
        int half = dim / 2;
        for (int i = 0; i < half; i++) {
            float angle = (float) position * invFreq[i];
            float cv = (float) Math.cos(angle);
            float sv = (float) Math.sin(angle);
            cos[i] = cv;
            cos[i + half] = cv;
            sin[i] = sv;
            sin[i + half] = sv;
        }
    }
}
