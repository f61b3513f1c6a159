package dev.cogvlm4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The vector activations give the same bits as scalar code doing the same correctly rounded operations, on every
 * call: before the JIT compiles them, and after. (The Vector API's own {@code EXP} would not: compiled, it is an
 * intrinsic; interpreted, {@code Math.exp} per lane.)
 */
class ActivationsTest {
    private static float exp(float hi, float lo) {
        hi = Math.min(Math.max(hi, -87.3f), 88.3f);
        float round = 12582912f;
        float t = Math.min(Math.max(Math.fma(hi + lo, 1.44269504088896341f, round), round - 126), round + 127);
        float n = t - round;
        float r = Math.fma(n, -0.693359375f, hi);
        r = Math.fma(n, 2.12194440e-4f, r) + lo;
        float p = 1.9875691500e-4f;
        p = Math.fma(p, r, 1.3981999507e-3f);
        p = Math.fma(p, r, 8.3334519073e-3f);
        p = Math.fma(p, r, 4.1665795894e-2f);
        p = Math.fma(p, r, 1.6666665459e-1f);
        p = Math.fma(p, r, 5.0000001201e-1f);
        float er = Math.fma(p * r, r, r) + 1f;
        int bits = (Float.floatToRawIntBits(t) - Float.floatToRawIntBits(round) + 127) << 23;
        return er * Float.intBitsToFloat(bits);
    }

    private static float gelu(float v) {
        float z = Math.abs(v) * 0.70710678118654752f;
        float t = 1f / Math.fma(z, 0.5f, 1f);
        float p = 0.17087277f;
        for (float c : new float[]{-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f, -0.18628806f, 0.09678418f,
                0.37409196f, 1.00002368f, -1.26551223f}) {
            p = Math.fma(p, t, c);
        }
        float sq = v * v;
        float sqErr = Math.fma(v, v, -sq);
        float erfc = t * exp(sq * -0.5f, p - sqErr * 0.5f);
        float half = v * 0.5f * erfc;
        return v < 0 ? half : v - half;
    }

    private static float silu(float g, float u) {
        return g / (exp(-g, 0f) + 1f) * u;
    }

    @Test
    void sameBitsAsScalarCodeColdAndWarm() {
        Random r = new Random(11);
        int n = 37;
        for (int call = 0; call < 20_000; call++) {
            float[] x = new float[n];
            float[] u = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) (r.nextGaussian() * Math.pow(3, r.nextInt(4)));
                u[i] = (float) r.nextGaussian();
            }
            float[] g = x.clone();
            Activations.gelu(g, n);
            float[] s = x.clone();
            Activations.siluGate(s, u, n);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(gelu(x[i])), Float.floatToRawIntBits(g[i]), "gelu, call " + call);
                assertEquals(Float.floatToRawIntBits(silu(x[i], u[i])), Float.floatToRawIntBits(s[i]), "silu, call " + call);
            }
        }
    }

    /** The backward activations against their double-precision derivatives, tails included. */
    @Test
    void backwardActivationsMatchTheirDerivatives() {
        Random r = new Random(5);
        int n = 4099;
        float[] x = new float[n];
        float[] u = new float[n];
        float[] dy = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * Math.pow(3, r.nextInt(3)));
            u[i] = (float) r.nextGaussian();
            dy[i] = (float) r.nextGaussian();
        }
        float[] dx = new float[n];
        float[] dg = new float[n];
        float[] du = new float[n];
        java.util.Arrays.fill(dx, 0.25f);
        Activations.geluBackward(x, dy, dx, n);
        Activations.siluGateBackward(x, u, dy, dg, du, n);
        for (int i = 0; i < n; i++) {
            double v = x[i];
            double cdf = 0.5 * (1 + Erf.erf(v / Math.sqrt(2)));
            double pdf = Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
            double wantX = 0.25 + dy[i] * (cdf + v * pdf);
            double s = 1 / (1 + Math.exp(-v));
            double wantG = dy[i] * u[i] * s * (1 + v * (1 - s));
            double wantU = dy[i] * v * s;
            org.junit.jupiter.api.Assertions.assertTrue(Math.abs(dx[i] - wantX) <= 2e-6 * (1 + Math.abs(wantX)),
                    "gelu' at " + v + ": " + dx[i] + " vs " + wantX);
            org.junit.jupiter.api.Assertions.assertTrue(Math.abs(dg[i] - wantG) <= 2e-6 * (1 + Math.abs(wantG)),
                    "silu gate d/dg at " + v);
            org.junit.jupiter.api.Assertions.assertTrue(Math.abs(du[i] - wantU) <= 2e-6 * (1 + Math.abs(wantU)),
                    "silu gate d/du at " + v);
        }
    }

    @Test
    void softmaxSumsToOneAndKeepsOrder() {
        float[] s = {3f, 1f, -2f, 3f, 0.5f, 7f, -30f, 2f, 1f, 0f, 4f, 4f, -1f, 2.5f, 6f, 1f, 0f, 3f, -7f};
        float[] p = new float[s.length + 2];
        Activations.softmax(s, 0, 0.5f, s.length, p, 1);
        double sum = 0;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : s) {
            max = Math.max(max, 0.5 * v);
        }
        double z = 0;
        for (float v : s) {
            z += Math.exp(0.5 * v - max);
        }
        for (int i = 0; i < s.length; i++) {
            double want = Math.exp(0.5 * s[i] - max) / z;
            org.junit.jupiter.api.Assertions.assertTrue(Math.abs(p[1 + i] - want) <= 1e-6 * want, "index " + i);
            sum += p[1 + i];
        }
        assertEquals(0f, p[0]);
        assertEquals(0f, p[s.length + 1]);
        assertEquals(1.0, sum, 1e-6);
    }
}
