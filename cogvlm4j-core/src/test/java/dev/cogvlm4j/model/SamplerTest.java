package dev.cogvlm4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.Fixtures;
import org.junit.jupiter.api.Test;

/** Sampling rules, and the decode loop's stopping rules on a real fixture model. */
class SamplerTest {
    private static final float[] LOGITS = {1f, 3f, 2.5f, -1f, 0f};

    private static GenerationOptions sampling(float t, int k, float p, float rep, long seed) {
        return new GenerationOptions(16, t, k, p, rep, seed, false);
    }

    @Test
    void greedyTakesTheFirstMaximum() {
        assertEquals(1, new Sampler(GenerationOptions.greedy(1, false)).pick(LOGITS, new int[0], 0));
        assertEquals(0, Sampler.argmax(new float[]{2f, 2f, 1f}));
    }

    @Test
    void topKOfOneAndTinyTopPAreGreedy() {
        for (long seed = 0; seed < 20; seed++) {
            assertEquals(1, new Sampler(sampling(1f, 1, 1f, 1f, seed)).pick(LOGITS, new int[0], 0));
            assertEquals(1, new Sampler(sampling(1f, 0, 0.01f, 1f, seed)).pick(LOGITS, new int[0], 0));
        }
    }

    @Test
    void topKLimitsTheCandidates() {
        for (long seed = 0; seed < 200; seed++) {
            int t = new Sampler(sampling(5f, 2, 1f, 1f, seed)).pick(LOGITS, new int[0], 0);
            assertTrue(t == 1 || t == 2, "token " + t + " outside the top 2");
        }
    }

    @Test
    void samplingFollowsTheSoftmaxAndTheSeed() {
        int[] counts = new int[LOGITS.length];
        Sampler s = new Sampler(sampling(1f, 0, 1f, 1f, 123));
        int n = 20000;
        for (int i = 0; i < n; i++) {
            counts[s.pick(LOGITS, new int[0], 0)]++;
        }
        double z = 0;
        for (float l : LOGITS) {
            z += Math.exp(l);
        }
        for (int i = 0; i < LOGITS.length; i++) {
            double p = Math.exp(LOGITS[i]) / z;
            assertEquals(p, counts[i] / (double) n, 0.015, "token " + i);
        }
        int[] a = new int[50];
        int[] b = new int[50];
        Sampler s1 = new Sampler(sampling(1f, 0, 1f, 1f, 7));
        Sampler s2 = new Sampler(sampling(1f, 0, 1f, 1f, 7));
        for (int i = 0; i < 50; i++) {
            a[i] = s1.pick(LOGITS, new int[0], 0);
            b[i] = s2.pick(LOGITS, new int[0], 0);
        }
        assertArrayEquals(a, b, "same seed, same draws");
    }

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeScores() {
        // Token 1 (3.0) penalised by 2 becomes 1.5, so token 2 (2.5) wins greedy decoding.
        GenerationOptions o = new GenerationOptions(1, 0f, 0, 1f, 2f, 0, false);
        assertEquals(2, new Sampler(o).pick(LOGITS, new int[]{1}, 1));
        // A negative score grows more negative: token 3 (−1 → −2) never overtakes token 4 (0).
        float[] l = {-5f, -5f, -5f, -1f, -1.5f};
        assertEquals(4, new Sampler(o).pick(l, new int[]{3}, 1));
    }

    @Test
    void optionsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> sampling(-1f, 0, 1f, 1f, 0));
        assertThrows(IllegalArgumentException.class, () -> sampling(1f, -1, 1f, 1f, 0));
        assertThrows(IllegalArgumentException.class, () -> sampling(1f, 0, 0f, 1f, 0));
        assertThrows(IllegalArgumentException.class, () -> sampling(1f, 0, 1f, 0f, 0));
        assertThrows(IllegalArgumentException.class, () -> sampling(Float.NaN, 0, 1f, 1f, 0));
    }

    @Test
    void generationStopsAtAStopTokenAndStreamsEachToken() {
        try (CogVlmModel model = CogVlmModel.load(Fixtures.caseDir("cogvlm_chat_textonly"))) {
            int[] ids = Fixtures.ints(Fixtures.expected(Fixtures.caseDir("cogvlm_chat_textonly")).get("input_ids"));
            int[] want = Fixtures.ints(Fixtures.expected(Fixtures.caseDir("cogvlm_chat_textonly")).get("generated_ids"));
            ModelInput in = ModelInput.raw(ids, new int[ids.length]);
            Session s = model.newSession();
            float[] logits = s.prefill(in, null, false);
            int stop = want[5];
            int firstStop = 0;
            while (want[firstStop] != stop) {
                firstStop++;
            }
            java.util.List<Integer> streamed = new java.util.ArrayList<>();
            int[] got = Generator.generate(s, ids, logits, GenerationOptions.greedy(16, false), t -> t == stop,
                    t -> streamed.add(t));
            assertArrayEquals(java.util.Arrays.copyOf(want, firstStop), got, "stops before the stop token");
            assertEquals(got.length, streamed.size());

            // With ignoreEos the same stop token is generated and kept.
            Session s2 = model.newSession();
            int[] all = Generator.generate(s2, ids, s2.prefill(in, null, false), GenerationOptions.greedy(16, true),
                    t -> t == stop, null);
            assertArrayEquals(want, all);

            // A listener returning false cancels generation.
            Session s3 = model.newSession();
            int[] cancelled = Generator.generate(s3, ids, s3.prefill(in, null, false), GenerationOptions.greedy(16, true),
                    t -> false, t -> false);
            assertEquals(1, cancelled.length);
        }
    }
}
