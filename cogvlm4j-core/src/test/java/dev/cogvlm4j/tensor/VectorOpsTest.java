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
}
