package dev.cogvlm4j.train.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Every backward pass against central finite differences of the loss {@code L = Σ y ⊙ R} (R random), and the
 * optimizer's schedule, clipping, freezing and exact resumption.
 */
class OpsTest {
    private final Random rnd = new Random(11);

    private float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextGaussian() * scale);
        }
        return a;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += (double) a[i] * b[i];
        }
        return s;
    }

    /** Compares {@code analytic} with central differences of {@code loss} with respect to {@code input}. */
    private static void check(String what, float[] input, float[] analytic, Supplier<Double> loss) {
        double h = 1e-2;
        double worst = 0;
        for (int i = 0; i < input.length; i++) {
            float keep = input[i];
            input[i] = (float) (keep + h);
            double up = loss.get();
            input[i] = (float) (keep - h);
            double down = loss.get();
            input[i] = keep;
            double numeric = (up - down) / (2 * h);
            double err = Math.abs(numeric - analytic[i]) / Math.max(1e-2, Math.abs(numeric) + Math.abs(analytic[i]));
            worst = Math.max(worst, err);
        }
        assertTrue(worst < 2e-2, what + ": relative gradient error " + worst);
    }

    @Test
    void linear() {
        int n = 3, k = 5, m = 4;
        float[] x = random(n * k, 1), w = random(m * k, 1), b = random(m, 1), r = random(n * m, 1);
        float[] y = new float[n * m];
        Supplier<Double> loss = () -> {
            Ops.linear(x, n, k, w, m, b, y);
            return dot(y, r);
        };
        float[] dx = new float[x.length], dw = new float[w.length], db = new float[b.length];
        Ops.linearBackward(x, n, k, w, m, r, dx, dw, db);
        check("linear dx", x, dx, loss);
        check("linear dW", w, dw, loss);
        check("linear db", b, db, loss);
    }

    @Test
    void linearOnTheGemmKernelsMatchesTheDefinition() {
        // Sizes that take the packed GEMM path (>= 64 rows) as well as the short-prompt path.
        for (int n : new int[]{3, 70}) {
            int k = 40, m = 33;
            float[] x = random(n * k, 1), w = random(m * k, 1), dy = random(n * m, 1);
            float[] dx = new float[n * k], dw = new float[m * k];
            Ops.linearBackward(x, n, k, w, m, dy, dx, dw, null);
            for (int i = 0; i < n; i++) {
                for (int t = 0; t < k; t++) {
                    double s = 0;
                    for (int j = 0; j < m; j++) {
                        s += (double) dy[i * m + j] * w[j * k + t];
                    }
                    assertEquals(s, dx[i * k + t], 1e-4 * (1 + Math.abs(s)));
                }
            }
            for (int j = 0; j < m; j++) {
                for (int t = 0; t < k; t++) {
                    double s = 0;
                    for (int i = 0; i < n; i++) {
                        s += (double) dy[i * m + j] * x[i * k + t];
                    }
                    assertEquals(s, dw[j * k + t], 1e-4 * (1 + Math.abs(s)));
                }
            }
        }
    }

    @Test
    void norms() {
        int n = 3, d = 7;
        float[] x = random(n * d, 1), w = random(d, 1), b = random(d, 1), r = random(n * d, 1);
        float[] y = new float[n * d];
        Supplier<Double> rms = () -> {
            Ops.rmsNorm(x, n, d, w, 1e-5f, y);
            return dot(y, r);
        };
        float[] dx = new float[x.length], dw = new float[d];
        Ops.rmsNormBackward(x, n, d, w, 1e-5f, r, dx, dw);
        check("rmsnorm dx", x, dx, rms);
        check("rmsnorm dw", w, dw, rms);
        Supplier<Double> ln = () -> {
            Ops.layerNorm(x, n, d, w, b, 1e-5f, y);
            return dot(y, r);
        };
        float[] lx = new float[x.length], lw = new float[d], lb = new float[d];
        Ops.layerNormBackward(x, n, d, w, 1e-5f, r, lx, lw, lb);
        check("layernorm dx", x, lx, ln);
        check("layernorm dw", w, lw, ln);
        check("layernorm db", b, lb, ln);
    }

    @Test
    void activations() {
        int n = 11;
        float[] x = random(n, 1.5), u = random(n, 1), r = random(n, 1), y = new float[n];
        Supplier<Double> gelu = () -> {
            Ops.gelu(x, y, n);
            return dot(y, r);
        };
        float[] dx = new float[n];
        Ops.geluBackward(x, r, dx, n);
        check("gelu", x, dx, gelu);
        Supplier<Double> swiglu = () -> {
            Ops.siluGate(x, u, y, n);
            return dot(y, r);
        };
        float[] dg = new float[n], du = new float[n];
        Ops.siluGateBackward(x, u, r, dg, du, n);
        check("swiglu gate", x, dg, swiglu);
        check("swiglu up", u, du, swiglu);
    }

    @Test
    void rotaryWithSharedImagePositions() {
        // Positions as in an image prompt: bos 0, boi 1, patches all 2, eoi 3, text 4.
        int[] pos = {0, 1, 2, 2, 2, 3, 4};
        int n = pos.length, heads = 2, d = 8;
        float[] x = random(n * heads * d, 1), r = random(n * heads * d, 1), y = new float[x.length];
        Supplier<Double> loss = () -> {
            Ops.rotary(x, n, heads, d, pos, 10000, y, false);
            return dot(y, r);
        };
        float[] dx = new float[x.length];
        Ops.rotaryBackward(r, n, heads, d, pos, 10000, dx);
        check("rotary", x, dx, loss);
    }

    @Test
    void causalAttention() {
        int n = 5, d = 4;
        float[] q = random(n * d, 1), k = random(n * d, 1), v = random(n * d, 1), r = random(n * d, 1), o = new float[n * d];
        Supplier<Double> loss = () -> {
            Ops.attention(q, k, v, n, d, true, o);
            return dot(o, r);
        };
        float[] p = Ops.attention(q, k, v, n, d, true, o);
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
        Ops.attentionBackward(q, k, v, p, n, d, r, dq, dk, dv);
        check("attention dq", q, dq, loss);
        check("attention dk", k, dk, loss);
        check("attention dv", v, dv, loss);
    }

    @Test
    void attentionAfterSharedPrefix() {
        // Three queries continuing after a prefix of four keys: keys are [prefix; own], query i sees 4 + i + 1.
        int nq = 3, prefix = 4, nk = prefix + nq, d = 4;
        float[] q = random(nq * d, 1), k = random(nk * d, 1), v = random(nk * d, 1), r = random(nq * d, 1), o = new float[nq * d];
        Supplier<Double> loss = () -> {
            Ops.attention(q, k, v, nq, nk, d, prefix, o);
            return dot(o, r);
        };
        float[] p = Ops.attention(q, k, v, nq, nk, d, prefix, o);
        assertEquals(0f, p[nk - 1], "the first query must not see the last key");
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
        Ops.attentionBackward(q, k, v, p, nq, nk, d, r, dq, dk, dv);
        check("prefix attention dq", q, dq, loss);
        check("prefix attention dk", k, dk, loss);
        check("prefix attention dv", v, dv, loss);
    }

    @Test
    void embeddingAndCrossEntropy() {
        int vocab = 6, d = 3;
        int[] ids = {2, 5, 2};
        float[] table = random(vocab * d, 1), r = random(ids.length * d, 1), y = new float[ids.length * d];
        Supplier<Double> emb = () -> {
            Ops.embedding(table, d, ids, y);
            return dot(y, r);
        };
        float[] dt = new float[table.length];
        Ops.embeddingBackward(d, ids, r, dt);
        check("embedding", table, dt, emb);

        int n = 4;
        float[] logits = random(n * vocab, 2);
        int[] targets = {1, 0, 5, 3};
        boolean[] mask = {false, true, true, true};
        float[] dl = new float[logits.length];
        float[] scratch = new float[logits.length];
        Supplier<Double> ce = () -> Ops.crossEntropy(logits, n, vocab, targets, mask, scratch);
        Ops.crossEntropy(logits, n, vocab, targets, mask, dl);
        check("cross-entropy", logits, dl, ce);
        for (int j = 0; j < vocab; j++) {
            assertEquals(0f, dl[j], "masked (prompt) positions get no gradient");
        }
    }

    @Test
    void patchConvolution() {
        // Conv2d(3, 4, kernel 2, stride 2) on a 4×4 image = linear map of unfolded patches.
        int size = 4, patch = 2, out = 4, row = 3 * patch * patch, g = size / patch;
        float[] px = random(3 * size * size, 1), w = random(out * row, 1), b = random(out, 1), r = random(g * g * out, 1);
        float[] y = new float[g * g * out];
        Supplier<Double> loss = () -> {
            Ops.linear(Ops.unfold(px, 3, size, patch), g * g, row, w, out, b, y);
            return dot(y, r);
        };
        float[] dpatches = new float[g * g * row], dpx = new float[px.length], dw = new float[w.length];
        Ops.linearBackward(Ops.unfold(px, 3, size, patch), g * g, row, w, out, r, dpatches, dw, null);
        Ops.unfoldBackward(dpatches, 3, size, patch, dpx);
        check("patch conv pixels", px, dpx, loss);
        check("patch conv kernel", w, dw, loss);
    }

    @Test
    void gluAdapterAndExpertRoutingCompose() {
        // The GLU adapter: linear → LayerNorm → GELU → silu(gate)·up → linear, applied to the vision rows only
        // (gathered, transformed, scattered back), as a visual expert routes its tokens.
        int n = 5, vw = 6, h = 4, inter = 7;
        int[] rows = {1, 2, 3};
        float[] x = random(n * vw, 1), proj = random(h * vw, 0.5), lnW = random(h, 1), lnB = random(h, 1);
        float[] gate = random(inter * h, 0.5), up = random(inter * h, 0.5), down = random(h * inter, 0.5);
        float[] r = random(n * h, 1);
        int m = rows.length;
        float[][] keep = new float[6][];
        Supplier<Double> loss = () -> {
            float[] xs = Ops.gatherRows(x, vw, rows);
            float[] a = new float[m * h];
            Ops.linear(xs, m, vw, proj, h, null, a);
            float[] ln = new float[m * h];
            Ops.layerNorm(a, m, h, lnW, lnB, 1e-5f, ln);
            float[] ge = new float[m * h];
            Ops.gelu(ln, ge, m * h);
            float[] gg = new float[m * inter];
            float[] uu = new float[m * inter];
            Ops.linear(ge, m, h, gate, inter, null, gg);
            Ops.linear(ge, m, h, up, inter, null, uu);
            float[] sg = new float[m * inter];
            Ops.siluGate(gg, uu, sg, m * inter);
            float[] o = new float[m * h];
            Ops.linear(sg, m, inter, down, h, null, o);
            float[] full = new float[n * h];
            Ops.scatterAddRows(o, h, rows, full);
            keep[0] = xs;
            keep[1] = a;
            keep[2] = ln;
            keep[3] = ge;
            keep[4] = gg;
            keep[5] = uu;
            return dot(full, r);
        };
        loss.get();
        float[] xs = keep[0], a = keep[1], ln = keep[2], ge = keep[3], gg = keep[4], uu = keep[5];
        float[] sg = new float[m * inter];
        Ops.siluGate(gg, uu, sg, m * inter);
        float[] dOut = Ops.gatherRows(r, h, rows);
        float[] dsg = new float[m * inter], ddown = new float[down.length];
        Ops.linearBackward(sg, m, inter, down, h, dOut, dsg, ddown, null);
        float[] dgg = new float[m * inter], duu = new float[m * inter];
        Ops.siluGateBackward(gg, uu, dsg, dgg, duu, m * inter);
        float[] dge = new float[m * h], dgate = new float[gate.length], dup = new float[up.length];
        Ops.linearBackward(ge, m, h, gate, inter, dgg, dge, dgate, null);
        Ops.linearBackward(ge, m, h, up, inter, duu, dge, dup, null);
        float[] dln = new float[m * h];
        Ops.geluBackward(ln, dge, dln, m * h);
        float[] da = new float[m * h], dlnW = new float[h], dlnB = new float[h];
        Ops.layerNormBackward(a, m, h, lnW, 1e-5f, dln, da, dlnW, dlnB);
        float[] dxs = new float[m * vw], dproj = new float[proj.length];
        Ops.linearBackward(xs, m, vw, proj, h, da, dxs, dproj, null);
        float[] dx = new float[x.length];
        Ops.scatterAddRows(dxs, vw, rows, dx);
        check("adapter input (routed rows only)", x, dx, loss);
        check("adapter linear_proj", proj, dproj, loss);
        check("adapter norm1", lnW, dlnW, loss);
        check("adapter gate_proj", gate, dgate, loss);
        check("adapter dense_h_to_4h", up, dup, loss);
        check("adapter dense_4h_to_h", down, ddown, loss);
        for (int t = 0; t < vw; t++) {
            assertEquals(0f, dx[t], "a language row gets nothing from the visual expert");
        }
    }

    @Test
    void adamwScheduleClippingFreezingAndResume() {
        AdamW opt = new AdamW(1e-2f, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 1f, 10, 100);
        assertEquals(1e-3, opt.learningRate(1), 1e-9);
        assertEquals(1e-2, opt.learningRate(10), 1e-9);
        assertEquals(1e-3, opt.learningRate(100), 1e-9);
        assertTrue(opt.learningRate(55) < 1e-2 && opt.learningRate(55) > 1e-3);

        Param a = Param.of("a", new float[]{1f, -2f});
        Param frozen = Param.of("f", new float[]{3f}).frozen(true);
        a.grad()[0] = 30f;
        a.grad()[1] = 40f;
        frozen.grad()[0] = 1f;
        double norm = opt.step(List.of(a, frozen));
        assertEquals(50.0, norm, 1e-6);
        assertEquals(3f, frozen.value()[0], "frozen parameters do not move");
        assertTrue(a.value()[0] < 1f && a.value()[1] < -2f + 1e-3, "both moved against the gradient");

        // Two optimizers, one restored from the other's state, take identical next steps.
        AdamW copy = new AdamW(1e-2f, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 1f, 10, 100);
        copy.restore(opt.steps(), java.util.Map.of("a", opt.moments("a")));
        Param a2 = Param.of("a", a.value().clone());
        a.grad()[0] = 0.5f;
        a.grad()[1] = -0.25f;
        a2.grad()[0] = 0.5f;
        a2.grad()[1] = -0.25f;
        opt.step(List.of(a));
        copy.step(List.of(a2));
        assertArrayEquals(a.value(), a2.value());
    }
}
