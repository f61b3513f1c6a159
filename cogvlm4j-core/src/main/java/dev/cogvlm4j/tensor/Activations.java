package dev.cogvlm4j.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The elementwise activations (exact GELU, the SwiGLU gate) and attention's softmax on the Vector API, the first two
 * spread over the pool. They run over every element of the widest activations there are (EVA2-CLIP-E's MLP: 1,226 ×
 * 15,360 values per layer, 63 layers), so a scalar loop with a double-precision {@code Math.exp} per element costs
 * seconds per image.
 *
 * <p>Only correctly rounded operations are used (add, multiply, fused multiply-add, divide, conversions, bit
 * operations): the Vector API's {@code EXP} is an intrinsic in compiled code and {@code Math.exp} per lane in the
 * interpreter, and the two may differ in the last bit, so the same call could round differently before and after the
 * JIT compiled it. The exponential here is a range reduction by powers of two and a polynomial (the Cephes
 * {@code expf} coefficients), good to about one unit in the last place.
 */
final class Activations {
    private static final VectorSpecies<Float> F = VectorOps.F;
    /** Elements per parallel task: below this the fork-join costs more than it saves. */
    private static final int GRAIN = 1 << 15;

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 · 2²³: adding it rounds a float of magnitude below 2²² to an integer, kept in the low mantissa bits. */
    private static final float ROUND = 12582912f;
    /** exp's argument is clamped here: 2ⁿ stays a normal float and e^x finite. */
    private static final float EXP_MIN = -87.3f;
    private static final float EXP_MAX = 88.3f;
    private static final float INV_SQRT2 = 0.70710678118654752f;
    private static final float INV_SQRT_2PI = 0.39894228040143268f;

    private Activations() {
    }

    /** e^x per lane, for x clamped to [{@link #EXP_MIN}, {@link #EXP_MAX}]. */
    static FloatVector exp(FloatVector x) {
        return exp(x, FloatVector.zero(F));
    }

    /**
     * e^(hi + lo) per lane, where lo is a small correction to hi that a single float could not hold (GELU's
     * exponent is −x²/2 plus a polynomial, and rounding x² alone would cost the result up to 1e-6 of its value).
     */
    static FloatVector exp(FloatVector hi, FloatVector lo) {
        hi = hi.max(EXP_MIN).min(EXP_MAX);
        // n = round((hi + lo) / ln 2), r = hi − n·ln 2 + lo, e^x = 2ⁿ · e^r. n·LN2_HI is exact and close to hi, so
        // the first subtraction loses nothing; ln 2's low part and lo are added to the small remainder.
        // n is kept within the normal exponents (far tails of GELU's exponent may pass EXP_MIN through lo).
        FloatVector t = hi.add(lo).fma(c(LOG2E), c(ROUND)).max(ROUND - 126).min(ROUND + 127);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(c(-LN2_HI), hi);
        r = n.fma(c(-LN2_LO), r).add(lo);
        FloatVector p = FloatVector.broadcast(F, 1.9875691500e-4f);
        p = p.fma(r, c(1.3981999507e-3f));
        p = p.fma(r, c(8.3334519073e-3f));
        p = p.fma(r, c(4.1665795894e-2f));
        p = p.fma(r, c(1.6666665459e-1f));
        p = p.fma(r, c(5.0000001201e-1f));
        FloatVector er = p.mul(r).fma(r, r).add(1f);
        // The integer n sits in t's low mantissa bits; 2ⁿ is that integer moved into the exponent field.
        IntVector bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND)).add(127).lanewise(VectorOperators.LSHL, 23);
        return er.mul(bits.reinterpretAsFloats());
    }

    /**
     * Exact GELU in place, {@code x · Φ(x) = x − ½·x·erfc(x/√2)} for x ≥ 0 and {@code ½·x·erfc(−x/√2)} below, with
     * erfc by the Chebyshev fit of Numerical Recipes (fractional error below 1.2e-7). Written around erfc, not
     * {@code 1 + erf}, so large inputs come out correctly rounded instead of losing bits to a cancellation.
     */
    static void gelu(float[] x, int len) {
        Parallel.ranges(len, GRAIN, F.length(), (from, to) -> {
            int i = from;
            int upper = from + F.loopBound(to - from);
            for (; i < upper; i += F.length()) {
                geluVector(FloatVector.fromArray(F, x, i)).intoArray(x, i);
            }
            if (i < to) {
                VectorMask<Float> m = F.indexInRange(i, to);
                geluVector(FloatVector.fromArray(F, x, i, m)).intoArray(x, i, m);
            }
        });
    }

    /** The exponent's polynomial in Numerical Recipes' erfc fit: {@code erfc(z) ≈ t·e^(−z² + P(t))}, t = 1/(1 + z/2). */
    private static FloatVector erfcPolynomial(FloatVector t) {
        FloatVector p = FloatVector.broadcast(F, 0.17087277f);
        p = p.fma(t, c(-0.82215223f));
        p = p.fma(t, c(1.48851587f));
        p = p.fma(t, c(-1.13520398f));
        p = p.fma(t, c(0.27886807f));
        p = p.fma(t, c(-0.18628806f));
        p = p.fma(t, c(0.09678418f));
        p = p.fma(t, c(0.37409196f));
        p = p.fma(t, c(1.00002368f));
        return p.fma(t, c(-1.26551223f));
    }

    private static FloatVector geluVector(FloatVector v) {
        FloatVector half = v.mul(0.5f).mul(erfcOfScaled(v));
        return v.sub(half).blend(half, v.compare(VectorOperators.LT, 0f));
    }

    /**
     * {@code erfc(|v|/√2)} by the fit: {@code t·e^(−v²/2 + P(t))}, with −v²/2 carried exactly as a rounded square and
     * its rounding error (a fused multiply-add recovers it), since rounding v² alone would cost up to 1e-6 of the result.
     */
    private static FloatVector erfcOfScaled(FloatVector v) {
        FloatVector z = v.abs().mul(INV_SQRT2);
        FloatVector t = FloatVector.broadcast(F, 1f).div(z.fma(c(0.5f), c(1f)));
        FloatVector p = erfcPolynomial(t);
        FloatVector sq = v.mul(v);
        FloatVector sqErr = v.fma(v, sq.neg());
        return t.mul(exp(sq.mul(-0.5f), p.sub(sqErr.mul(0.5f))));
    }

    /**
     * Backward of {@link #gelu}: {@code dx += dy · (Φ(x) + x·φ(x))}, Φ from the same erfc fit as the forward pass and
     * φ from the same split exponent of −x²/2.
     */
    static void geluBackward(float[] x, float[] dy, float[] dx, int len) {
        Parallel.ranges(len, GRAIN, F.length(), (from, to) -> {
            for (int i = from; i < to; i += F.length()) {
                VectorMask<Float> m = F.indexInRange(i, to);
                FloatVector v = FloatVector.fromArray(F, x, i, m);
                FloatVector d = FloatVector.fromArray(F, dy, i, m).mul(geluSlope(v));
                FloatVector.fromArray(F, dx, i, m).add(d).intoArray(dx, i, m);
            }
        });
    }

    private static FloatVector geluSlope(FloatVector v) {
        FloatVector halfErfc = erfcOfScaled(v).mul(0.5f);
        FloatVector cdf = c(1f).sub(halfErfc).blend(halfErfc, v.compare(VectorOperators.LT, 0f));
        FloatVector sq = v.mul(v);
        FloatVector pdf = exp(sq.mul(-0.5f), v.fma(v, sq.neg()).mul(-0.5f)).mul(INV_SQRT_2PI);
        return v.fma(pdf, cdf);
    }

    /** Backward of {@link #siluGate}: {@code dg += dy·u·σ(g)·(1 + g·(1 − σ(g)))}, {@code du += dy·g·σ(g)}. */
    static void siluGateBackward(float[] g, float[] u, float[] dy, float[] dg, float[] du, int len) {
        Parallel.ranges(len, GRAIN, F.length(), (from, to) -> {
            for (int i = from; i < to; i += F.length()) {
                VectorMask<Float> m = F.indexInRange(i, to);
                FloatVector gv = FloatVector.fromArray(F, g, i, m);
                FloatVector d = FloatVector.fromArray(F, dy, i, m);
                FloatVector sig = c(1f).div(exp(gv.neg()).add(1f));
                FloatVector slope = gv.mul(c(1f).sub(sig)).add(1f).mul(sig);
                FloatVector.fromArray(F, dg, i, m).add(d.mul(FloatVector.fromArray(F, u, i, m)).mul(slope))
                        .intoArray(dg, i, m);
                FloatVector.fromArray(F, du, i, m).add(d.mul(gv.mul(sig))).intoArray(du, i, m);
            }
        });
    }

    /** {@code gate = silu(gate) · up = gate / (1 + e^−gate) · up}, in place. */
    static void siluGate(float[] gate, float[] up, int len) {
        Parallel.ranges(len, GRAIN, F.length(), (from, to) -> {
            int i = from;
            int upper = from + F.loopBound(to - from);
            for (; i < upper; i += F.length()) {
                FloatVector g = FloatVector.fromArray(F, gate, i);
                siluVector(g, FloatVector.fromArray(F, up, i)).intoArray(gate, i);
            }
            if (i < to) {
                VectorMask<Float> m = F.indexInRange(i, to);
                FloatVector g = FloatVector.fromArray(F, gate, i, m);
                siluVector(g, FloatVector.fromArray(F, up, i, m)).intoArray(gate, i, m);
            }
        });
    }

    private static FloatVector siluVector(FloatVector g, FloatVector u) {
        return g.div(exp(g.neg()).add(1f)).mul(u);
    }

    /**
     * {@code p[po..po+n) = softmax(scale · s[so..so+n))}, subtracting the maximum first; {@code p} may be {@code s}.
     * The sum runs in vector lanes, added in a fixed order at the end ({@link VectorOps#sumLanes}).
     */
    static void softmax(float[] s, int so, float scale, int n, float[] p, int po) {
        if (n <= 0) {
            return;
        }
        FloatVector vs = c(scale);
        int upper = F.loopBound(n);
        FloatVector vmax = c(Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i < upper; i += F.length()) {
            vmax = vmax.max(FloatVector.fromArray(F, s, so + i).mul(vs));
        }
        VectorMask<Float> tail = F.indexInRange(i, n);
        if (i < n) {
            vmax = vmax.lanewise(VectorOperators.MAX, FloatVector.fromArray(F, s, so + i, tail).mul(vs), tail);
        }
        FloatVector max = c(vmax.reduceLanes(VectorOperators.MAX));
        FloatVector acc = FloatVector.zero(F);
        for (i = 0; i < upper; i += F.length()) {
            FloatVector e = exp(FloatVector.fromArray(F, s, so + i).fma(vs, max.neg()));
            e.intoArray(p, po + i);
            acc = acc.add(e);
        }
        if (i < n) {
            FloatVector e = exp(FloatVector.fromArray(F, s, so + i, tail).fma(vs, max.neg()));
            e.intoArray(p, po + i, tail);
            acc = acc.lanewise(VectorOperators.ADD, e, tail);
        }
        FloatVector inv = c(1f / VectorOps.sumLanes(acc));
        for (i = 0; i < upper; i += F.length()) {
            FloatVector.fromArray(F, p, po + i).mul(inv).intoArray(p, po + i);
        }
        if (i < n) {
            FloatVector.fromArray(F, p, po + i, tail).mul(inv).intoArray(p, po + i, tail);
        }
    }

    private static FloatVector c(float v) {
        return FloatVector.broadcast(F, v);
    }
}
