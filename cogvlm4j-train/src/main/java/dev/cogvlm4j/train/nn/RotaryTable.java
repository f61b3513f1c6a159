package dev.cogvlm4j.train.nn;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Rotary angles' cosines and sines by position, {@code position / θ^(2i/d)} for {@code i < d/2}, computed once per
 * position instead of once per row and call (a power, a cosine and a sine per value, in every layer's forward and
 * backward pass). Grows on demand; safe to share between training threads.
 */
final class RotaryTable {
    private record Key(double theta, int dim) {
    }

    /** Rows {@code [position][i]}, replaced whole when the table grows, so readers never see a half-built one. */
    private record Rows(double[][] cos, double[][] sin) {
    }

    private static final Map<Key, RotaryTable> TABLES = new ConcurrentHashMap<>();

    private final double theta;
    private final int dim;
    private volatile Rows rows = new Rows(new double[0][], new double[0][]);

    private RotaryTable(double theta, int dim) {
        this.theta = theta;
        this.dim = dim;
    }

    static RotaryTable of(double theta, int dim) {
        return TABLES.computeIfAbsent(new Key(theta, dim), key -> new RotaryTable(theta, dim));
    }

    double[] cos(int position) {
        return rows(position).cos()[position];
    }

    double[] sin(int position) {
        return rows(position).sin()[position];
    }

    private Rows rows(int position) {
        Rows r = rows;
        return position < r.cos().length ? r : grow(position);
    }

    private synchronized Rows grow(int position) {
        Rows r = rows;
        int have = r.cos().length;
        if (position < have) {
            return r;
        }
        int size = Math.max(position + 1, 2 * have);
        double[][] cos = Arrays.copyOf(r.cos(), size);
        double[][] sin = Arrays.copyOf(r.sin(), size);
        int half = dim / 2;
        for (int p = have; p < size; p++) {
            cos[p] = new double[half];
            sin[p] = new double[half];
            for (int i = 0; i < half; i++) {
                double angle = p / Math.pow(theta, 2.0 * i / dim);
                cos[p][i] = Math.cos(angle);
                sin[p][i] = Math.sin(angle);
            }
        }
        rows = new Rows(cos, sin);
        return rows;
    }
}
