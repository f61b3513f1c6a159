package dev.cogvlm4j.train.nn;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Rotary angles' cosines and sines by position, {@code position / θ^(2i/d)} for {@code i < d/2}, computed once per
 * position instead of once per row and call (a power, a cosine and a sine per value, in every layer's forward and
 * backward pass). Grows on demand; safe to share between training threads.
 */
final class RotaryTable {
    private static final Map<String, RotaryTable> TABLES = new ConcurrentHashMap<>();

    private final double theta;
    private final int dim;
    private volatile double[][][] rows = new double[2][0][];

    private RotaryTable(double theta, int dim) {
        this.theta = theta;
        this.dim = dim;
    }

    static RotaryTable of(double theta, int dim) {
        return TABLES.computeIfAbsent(theta + "/" + dim, key -> new RotaryTable(theta, dim));
    }

    double[] cos(int position) {
        return table(position)[0][position];
    }

    double[] sin(int position) {
        return table(position)[1][position];
    }

    private double[][][] table(int position) {
        double[][][] t = rows;
        if (position < t[0].length) {
            return t;
        }
        return grow(position);
    }

    private synchronized double[][][] grow(int position) {
        double[][][] t = rows;
        if (position < t[0].length) {
            return t;
        }
        int size = Math.max(position + 1, 2 * t[0].length);
        double[][] cos = java.util.Arrays.copyOf(t[0], size);
        double[][] sin = java.util.Arrays.copyOf(t[1], size);
        int half = dim / 2;
        for (int p = t[0].length; p < size; p++) {
            cos[p] = new double[half];
            sin[p] = new double[half];
            for (int i = 0; i < half; i++) {
                double angle = p / Math.pow(theta, 2.0 * i / dim);
                cos[p][i] = Math.cos(angle);
                sin[p][i] = Math.sin(angle);
            }
        }
        rows = new double[][][]{cos, sin};
        return rows;
    }
}
