package dev.cogvlm4j.model;

/**
 * Keys and values of every decoder layer for the tokens seen so far, sized to the conversation: it starts small
 * and doubles when a prefill or step needs more room. CogAgent's cross-attention keys and values, computed once per
 * image, live here too.
 */
public final class KvCache {
    private final int layers;
    private final int kvDim;
    private final int maxLength;
    private float[][] keys;
    private float[][] values;
    private int capacity;
    private int length;
    /** Per layer, CogAgent's cross keys and values side by side: {@code [m, 2·Cc]}. */
    final float[][] crossKeyValues;
    int crossLength;

    KvCache(int layers, int kvDim, int maxLength, boolean cross) {
        this.layers = layers;
        this.kvDim = kvDim;
        this.maxLength = maxLength;
        this.capacity = Math.min(maxLength, 256);
        this.keys = new float[layers][capacity * kvDim];
        this.values = new float[layers][capacity * kvDim];
        this.crossKeyValues = cross ? new float[layers][] : null;
    }

    /** Tokens cached. */
    public int length() {
        return length;
    }

    void ensure(int newLength) {
        if (newLength > maxLength) {
            throw new IllegalStateException("context of " + maxLength + " tokens exceeded (" + newLength + " needed)");
        }
        if (newLength <= capacity) {
            return;
        }
        int cap = capacity;
        while (cap < newLength) {
            cap = Math.min(maxLength, cap * 2);
        }
        for (int l = 0; l < layers; l++) {
            keys[l] = java.util.Arrays.copyOf(keys[l], cap * kvDim);
            values[l] = java.util.Arrays.copyOf(values[l], cap * kvDim);
        }
        capacity = cap;
    }

    float[] keys(int layer) {
        return keys[layer];
    }

    float[] values(int layer) {
        return values[layer];
    }

    void advance(int n) {
        length += n;
    }

    /** Forgets tokens beyond {@code newLength} (a shared prefix stays). */
    void truncate(int newLength) {
        if (newLength < 0 || newLength > length) {
            throw new IllegalArgumentException("cannot truncate " + length + " tokens to " + newLength);
        }
        length = newLength;
    }
}
