package dev.cogvlm4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API primitives shared by the kernels. Species are {@code static final} constants: the JIT only
 * intrinsifies vector code whose shape it can see as a constant.
 */
final class VectorOps {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** Half as many bits as {@link #F}: the same lane count in 16-bit elements. */
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(
            jdk.incubator.vector.VectorShape.forBitSize(F.vectorBitSize() / 2));

    private static final VectorShuffle<Float> SWAP1 = VectorShuffle.fromOp(F, i -> i ^ 1);
    private static final VectorShuffle<Float> SWAP2 = VectorShuffle.fromOp(F, i -> (i ^ 2) % F.length());
    private static final VectorShuffle<Float> SWAP4 = VectorShuffle.fromOp(F, i -> (i ^ 4) % F.length());
    private static final VectorShuffle<Float> SWAP8 = VectorShuffle.fromOp(F, i -> (i ^ 8) % F.length());

    private VectorOps() {
    }

    /**
     * The sum of a vector's lanes by a fixed pairwise tree. {@code reduceLanes(ADD)} leaves the order open, and
     * HotSpot's compiled code adds in another order than the interpreter's fallback, so the same call could round
     * differently before and after the JIT compiled it; lanewise adds over fixed shuffles cannot. (Training relies on
     * this: a fresh process must compute what a warmed-up one does.)
     */
    static float sumLanes(FloatVector v) {
        int n = F.length();
        if (n > 16) {
            float s = 0;
            for (int i = 0; i < n; i++) {
                s += v.lane(i);
            }
            return s;
        }
        if (n > 8) {
            v = v.add(v.rearrange(SWAP8));
        }
        if (n > 4) {
            v = v.add(v.rearrange(SWAP4));
        }
        if (n > 2) {
            v = v.add(v.rearrange(SWAP2));
        }
        if (n > 1) {
            v = v.add(v.rearrange(SWAP1));
        }
        return v.lane(0);
    }

    /** Dot product of {@code a[ao..ao+n)} and {@code b[bo..bo+n)}. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        if (upper > 0) {
            FloatVector acc2 = FloatVector.zero(F);
            int step = F.length();
            for (; i + step <= upper - step; i += 2 * step) {
                acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
                acc2 = FloatVector.fromArray(F, a, ao + i + step)
                        .fma(FloatVector.fromArray(F, b, bo + i + step), acc2);
            }
            for (; i < upper; i += step) {
                acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
            }
            acc = acc.add(acc2);
        }
        float sum = sumLanes(acc);
        for (; i < n; i++) {
            sum += a[ao + i] * b[bo + i];
        }
        return sum;
    }

    /** {@code y[yo..yo+n) += alpha * x[xo..xo+n)}. */
    static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector va = FloatVector.broadcast(F, alpha);
        for (; i < upper; i += F.length()) {
            FloatVector.fromArray(F, x, xo + i).fma(va, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += alpha * x[xo + i];
        }
    }

    /**
     * {@code s[so + u] = a[ao..ao+n) · b[bo + u·stride ..)} for u = 0..3: four dot products sharing each load of
     * {@code a}, each with one accumulator and a fixed-order lane sum. {@code n} must be a multiple of the lane count.
     */
    static void dot4(float[] a, int ao, float[] b, int bo, int stride, int n, float[] s, int so) {
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = s0;
        FloatVector s2 = s0;
        FloatVector s3 = s0;
        for (int i = 0; i < n; i += F.length()) {
            FloatVector av = FloatVector.fromArray(F, a, ao + i);
            s0 = FloatVector.fromArray(F, b, bo + i).fma(av, s0);
            s1 = FloatVector.fromArray(F, b, bo + stride + i).fma(av, s1);
            s2 = FloatVector.fromArray(F, b, bo + 2 * stride + i).fma(av, s2);
            s3 = FloatVector.fromArray(F, b, bo + 3 * stride + i).fma(av, s3);
        }
        s[so] = sumLanes(s0);
        s[so + 1] = sumLanes(s1);
        s[so + 2] = sumLanes(s2);
        s[so + 3] = sumLanes(s3);
    }

    /**
     * {@code y[yo..yo+n) += Σ_u alpha[ao + u] · x[xo + u·stride ..)} for u = 0..3, added in that order: the same
     * sums, rounding for rounding, as four {@link #axpy} calls, with {@code y} loaded and stored once. {@code n} must
     * be a multiple of the lane count.
     */
    static void axpy4(float[] alpha, int ao, float[] x, int xo, int stride, float[] y, int yo, int n) {
        FloatVector a0 = FloatVector.broadcast(F, alpha[ao]);
        FloatVector a1 = FloatVector.broadcast(F, alpha[ao + 1]);
        FloatVector a2 = FloatVector.broadcast(F, alpha[ao + 2]);
        FloatVector a3 = FloatVector.broadcast(F, alpha[ao + 3]);
        for (int i = 0; i < n; i += F.length()) {
            FloatVector acc = FloatVector.fromArray(F, y, yo + i);
            acc = FloatVector.fromArray(F, x, xo + i).fma(a0, acc);
            acc = FloatVector.fromArray(F, x, xo + stride + i).fma(a1, acc);
            acc = FloatVector.fromArray(F, x, xo + 2 * stride + i).fma(a2, acc);
            acc = FloatVector.fromArray(F, x, xo + 3 * stride + i).fma(a3, acc);
            acc.intoArray(y, yo + i);
        }
    }

    /** Dot product of {@code n} little-endian floats at byte {@code byteOff} of a segment with {@code x[xo..)}. */
    static float dotF32(MemorySegment seg, long byteOff, float[] x, int xo, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        int step = F.length();
        for (; i + step < upper; i += 2 * step) {
            acc = FloatVector.fromMemorySegment(F, seg, byteOff + 4L * i, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, xo + i), acc);
            acc2 = FloatVector.fromMemorySegment(F, seg, byteOff + 4L * (i + step), ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, xo + i + step), acc2);
        }
        for (; i < upper; i += step) {
            acc = FloatVector.fromMemorySegment(F, seg, byteOff + 4L * i, ByteOrder.LITTLE_ENDIAN)
                    .fma(FloatVector.fromArray(F, x, xo + i), acc);
        }
        float sum = sumLanes(acc.add(acc2));
        for (; i < n; i++) {
            sum += seg.get(Tensor.F32_LE, byteOff + 4L * i) * x[xo + i];
        }
        return sum;
    }

    /** Dot product of {@code n} bf16 values at byte {@code byteOff}, widened in registers, with {@code x[xo..)}. */
    static float dotBf16(MemorySegment seg, long byteOff, float[] x, int xo, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        FloatVector acc = FloatVector.zero(F);
        FloatVector acc2 = FloatVector.zero(F);
        int step = F.length();
        for (; i + step < upper; i += 2 * step) {
            acc = widen(seg, byteOff + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc);
            acc2 = widen(seg, byteOff + 2L * (i + step)).fma(FloatVector.fromArray(F, x, xo + i + step), acc2);
        }
        for (; i < upper; i += step) {
            acc = widen(seg, byteOff + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc);
        }
        float sum = sumLanes(acc.add(acc2));
        for (; i < n; i++) {
            sum += Float.intBitsToFloat((seg.get(Tensor.I16_LE, byteOff + 2L * i) & 0xffff) << 16) * x[xo + i];
        }
        return sum;
    }

    private static FloatVector widen(MemorySegment seg, long byteOff) {
        ShortVector s = ShortVector.fromMemorySegment(S, seg, byteOff, ByteOrder.LITTLE_ENDIAN);
        IntVector w = (IntVector) s.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
        return w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Widens {@code n} little-endian bf16 values starting at byte {@code byteOff} into floats. */
    static void widenBf16(MemorySegment seg, long byteOff, float[] dst, int off, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            widen(seg, byteOff + 2L * i).intoArray(dst, off + i);
        }
        for (; i < n; i++) {
            short v = seg.get(Tensor.I16_LE, byteOff + 2L * i);
            dst[off + i] = Float.intBitsToFloat((v & 0xffff) << 16);
        }
    }
}
