package dev.cogvlm4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The fixed-order lane sum: the same bits as a scalar pairwise tree, before and after the JIT compiles it. */
class VectorOpsTest {
    /** Lane i pairs with lane i ^ half at each level, the widest pairs first; lane 0 holds the result. */
    private static float tree(float[] lanes) {
        float[] t = lanes.clone();
        for (int half = t.length / 2; half >= 1; half /= 2) {
            float[] next = t.clone();
            for (int i = 0; i < t.length; i++) {
                next[i] = t[i] + t[i ^ half];
            }
            t = next;
        }
        return t[0];
    }

    @Test
    void sumsLanesInAFixedPairwiseOrder() {
        Random r = new Random(5);
        int n = VectorOps.F.length();
        float[] lanes = new float[n];
        // Many calls, so the comparison covers the interpreted, C1 and C2 versions of sumLanes alike.
        for (int call = 0; call < 200_000; call++) {
            for (int i = 0; i < n; i++) {
                // Magnitudes spread over many orders, so that a different summation order would round differently.
                lanes[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(8)));
            }
            float got = VectorOps.sumLanes(FloatVector.fromArray(VectorOps.F, lanes, 0));
            if (n <= 16) {
                assertEquals(Float.floatToRawIntBits(tree(lanes)), Float.floatToRawIntBits(got), "call " + call);
            }
        }
    }

    @Test
    void fourAtATimeMatchesOneAtATime() {
        Random r = new Random(6);
        int n = 8 * VectorOps.F.length();
        int stride = n + 3;
        float[] a = new float[n];
        float[] b = new float[4 * stride];
        float[] alpha = new float[4];
        for (int call = 0; call < 20_000; call++) {
            for (int i = 0; i < n; i++) {
                a[i] = (float) r.nextGaussian();
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) r.nextGaussian();
            }
            for (int u = 0; u < 4; u++) {
                alpha[u] = (float) r.nextGaussian();
            }
            float[] s = new float[4];
            VectorOps.dot4(a, 0, b, 0, stride, n, s, 0);
            for (int u = 0; u < 4; u++) {
                double want = 0;
                for (int i = 0; i < n; i++) {
                    want += (double) a[i] * b[u * stride + i];
                }
                assertEquals(want, s[u], 1e-4 * Math.sqrt(n), "dot " + u + " call " + call);
            }
            // The four updates land in the order of four single ones, so the sums are the same bits.
            float[] y1 = a.clone();
            float[] y4 = a.clone();
            for (int u = 0; u < 4; u++) {
                VectorOps.axpy(alpha[u], b, u * stride, y1, 0, n);
            }
            VectorOps.axpy4(alpha, 0, b, 0, stride, y4, 0, n);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(y1[i]), Float.floatToRawIntBits(y4[i]), "axpy lane " + i + " call " + call);
            }
        }
    }
}
