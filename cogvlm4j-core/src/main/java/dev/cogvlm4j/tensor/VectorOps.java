package dev.cogvlm4j.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
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

    private VectorOps() {
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
        float sum = acc.reduceLanes(VectorOperators.ADD);
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

    /** Widens {@code n} little-endian bf16 values starting at byte {@code byteOff} into floats. */
    static void widenBf16(MemorySegment seg, long byteOff, float[] dst, int off, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            ShortVector s = ShortVector.fromMemorySegment(S, seg, byteOff + 2L * i, ByteOrder.LITTLE_ENDIAN);
            IntVector w = (IntVector) s.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i);
        }
        for (; i < n; i++) {
            short v = seg.get(Tensor.I16_LE, byteOff + 2L * i);
            dst[off + i] = Float.intBitsToFloat((v & 0xffff) << 16);
        }
    }
}
