package dev.cogvlm4j.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.bench.RandomWeights;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Quantized storage against the plain reference: encode error bounds, and every kernel path on Q8_0 and Q4_0. */
class QuantizedKernelsTest {

    @ParameterizedTest
    @CsvSource({"Q8_0,0.0040", "Q4_0,0.1260"})
    void blockQuantizationErrorIsBounded(DType type, double relTol) {
        // Values in ±0.05: Q8_0 rounds to steps of amax/127 (half a step of error); Q4_0's levels run −8..7 steps
        // of amax/8, so a value at the far end from the block's extreme can clip by a whole step.
        Tensor q = RandomWeights.tensor("q", type, new long[]{8, 64}, 3);
        Tensor f = RandomWeights.tensor("f", DType.F32, new long[]{8, 64}, 3);
        for (int i = 0; i < 8 * 64; i++) {
            assertTrue(Math.abs(q.get(i) - f.get(i)) <= relTol * 0.05 + 1e-6, type + " element " + i + ": " + q.get(i) + " vs " + f.get(i));
        }
        float[] row = new float[64];
        q.readRow(3, row, 0);
        for (int i = 0; i < 64; i++) {
            assertEquals(q.get(3 * 64 + i), row[i], 0f, "vectorised dequantisation equals the scalar one");
        }
    }

    @ParameterizedTest
    @CsvSource({"Q8_0,1", "Q8_0,3", "Q8_0,9", "Q8_0,70", "Q4_0,1", "Q4_0,2", "Q4_0,17", "Q4_0,130", "BF16,5", "F32,33"})
    void matmulOnStoredTypeMatchesDequantizedReference(DType type, int n) {
        int m = 45;
        int k = 320;
        Tensor w = RandomWeights.tensor("w", type, new long[]{m, k}, 11);
        Random r = new Random(5);
        float[] x = new float[n * k];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        float[] out = new float[n * m];
        Kernels.get().matmul(x, n, w, null, out);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += (double) x[i * k + t] * w.get((long) j * k + t);
                }
                assertEquals(s, out[i * m + j], 1e-4 * (1 + Math.abs(s)), type + " n=" + n + " (" + i + "," + j + ")");
            }
        }
    }

    @org.junit.jupiter.api.Test
    void q4DotProductsByLevelTableAndByOffsetSumsBothMatchTheReference() {
        // The level-table kernel runs where vectors have sixteen float lanes, the offset-sums kernel elsewhere; both
        // are checked here whatever this machine's width, each against the dequantized weights in double precision.
        int k = 320;
        QuantizedTensor.Q4_0 w = (QuantizedTensor.Q4_0) RandomWeights.tensor("w", DType.Q4_0, new long[]{7, k}, 13);
        Random r = new Random(9);
        float[] x = new float[k + 5];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (int row = 0; row < 7; row++) {
            double s = 0;
            for (int t = 0; t < k; t++) {
                s += (double) x[5 + t] * w.get((long) row * k + t);
            }
            float bySums = w.dot(row, x, 5, QuantizedTensor.blockSums(x, 5, k));
            assertEquals(s, bySums, 1e-5 * (1 + Math.abs(s)), "offset sums, row " + row);
            assertEquals(s, w.dot(row, x, 5), 1e-5 * (1 + Math.abs(s)), "default kernel, row " + row);
        }
    }
}
