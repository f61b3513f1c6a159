package dev.cogvlm4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * ggml's block-quantized weights, read in place. Rows are whole blocks of 32 values, each block one fp16 scale
 * {@code d} followed by the quantized values; a value is {@code d · q}. The Vector API has no int8 dot product, so
 * blocks are widened to floats in registers.
 */
public abstract sealed class QuantizedTensor extends Tensor permits QuantizedTensor.Q8_0, QuantizedTensor.Q4_0 {
    static final int BLOCK = DType.BLOCK;
    /** Bytes with as many lanes as {@link VectorOps#F} has floats. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(VectorOps.F.length() * 8));
    private static final VectorSpecies<Float> F = VectorOps.F;

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorShape.forBitSize(VectorOps.F.length() * 32));

    /** Sums of {@code x[xo..xo+k)} over each 32-value block. */
    public static float[] blockSums(float[] x, int xo, int k) {
        float[] s = new float[k / BLOCK];
        for (int b = 0; b < s.length; b++) {
            FloatVector acc = FloatVector.zero(F);
            for (int v = 0; v < BLOCK; v += F.length()) {
                acc = acc.add(FloatVector.fromArray(F, x, xo + b * BLOCK + v));
            }
            s[b] = VectorOps.sumLanes(acc);
        }
        return s;
    }

    QuantizedTensor(String name, long[] shape, MemorySegment data) {
        super(name, shape, data);
        if (cols() % BLOCK != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + cols() + " values are not whole 32-value blocks");
        }
    }

    /** Bytes per block. */
    abstract int blockBytes();

    final float scale(long block) {
        return Float.float16ToFloat(data.get(I16_LE, block * blockBytes()));
    }

    @Override
    public void read(long from, float[] dst, int off, int n) {
        int i = 0;
        // Leading partial block.
        while (i < n && (from + i) % BLOCK != 0) {
            dst[off + i] = get(from + i);
            i++;
        }
        for (; i + BLOCK <= n; i += BLOCK) {
            dequantizeBlock((from + i) / BLOCK, dst, off + i);
        }
        for (; i < n; i++) {
            dst[off + i] = get(from + i);
        }
    }

    /** Writes the 32 values of one block to {@code dst[off..off+32)}. */
    abstract void dequantizeBlock(long block, float[] dst, int off);

    /** {@code Q8_0}: 32 signed bytes per block. */
    public static final class Q8_0 extends QuantizedTensor {
        Q8_0(String name, long[] shape, MemorySegment data) {
            super(name, shape, data);
        }

        @Override
        public DType dtype() {
            return DType.Q8_0;
        }

        @Override
        int blockBytes() {
            return 34;
        }

        @Override
        public float get(long i) {
            long b = i / BLOCK;
            return scale(b) * data.get(ValueLayout.JAVA_BYTE, b * 34 + 2 + i % BLOCK);
        }

        @Override
        void dequantizeBlock(long block, float[] dst, int off) {
            long base = block * 34;
            FloatVector d = FloatVector.broadcast(F, scale(block));
            for (int v = 0; v < BLOCK; v += F.length()) {
                widen(data, base + 2 + v).mul(d).intoArray(dst, off + v);
            }
        }

        /**
         * {@code Σ d·(q·x)} block by block. Each block's sum starts with a multiply rather than a multiply-add onto
         * a zero vector (the same values but for the sign of a zero): measured on the 2-core AVX-512 machine,
         * 2026-11-27, two threads streaming six 11,008 × 4,096 matrices, 26.8 against 21.4 GB/s (why the JIT's
         * code for the other form is slower was not established; unrolling two or four blocks gained nothing more).
         */
        @Override
        public float dot(int r, float[] x, int xo) {
            int blocks = cols() / BLOCK;
            long base = (long) r * blocks * 34;
            MemorySegment seg = data;
            FloatVector acc = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                long bo = base + (long) b * 34;
                int xb = xo + b * BLOCK;
                float d = Float.float16ToFloat(seg.get(I16_LE, bo));
                FloatVector sum = widen(seg, bo + 2).mul(FloatVector.fromArray(F, x, xb));
                for (int v = F.length(); v < BLOCK; v += F.length()) {
                    sum = widen(seg, bo + 2 + v).fma(FloatVector.fromArray(F, x, xb + v), sum);
                }
                acc = sum.fma(FloatVector.broadcast(F, d), acc);
            }
            return VectorOps.sumLanes(acc);
        }

        /** {@code F.length()} signed bytes at {@code offset}, as floats. */
        private static FloatVector widen(MemorySegment seg, long offset) {
            return (FloatVector) ByteVector.fromMemorySegment(B, seg, offset, java.nio.ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2F, F, 0);
        }
    }

    /** {@code Q4_0}: 16 bytes per block; byte j holds value j in its low nibble and value j + 16 in its high one. */
    public static final class Q4_0 extends QuantizedTensor {
        Q4_0(String name, long[] shape, MemorySegment data) {
            super(name, shape, data);
        }

        @Override
        public DType dtype() {
            return DType.Q4_0;
        }

        @Override
        int blockBytes() {
            return 18;
        }

        @Override
        public float get(long i) {
            long b = i / BLOCK;
            int j = (int) (i % BLOCK);
            int packed = data.get(ValueLayout.JAVA_BYTE, b * 18 + 2 + (j % 16)) & 0xff;
            int q = (j < 16 ? packed & 0x0f : packed >>> 4) - 8;
            return scale(b) * q;
        }

        @Override
        void dequantizeBlock(long block, float[] dst, int off) {
            long base = block * 18;
            FloatVector d = FloatVector.broadcast(F, scale(block));
            for (int v = 0; v < 16; v += F.length()) {
                // Nibbles are split in int lanes: x86 has no byte shifts, so a byte-lane shift is emulated slowly.
                // Zero-extended, the high nibble needs no mask after its shift.
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, base + 2 + v, java.nio.ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                ((FloatVector) q.and(0x0f).sub(8).convert(VectorOperators.I2F, 0)).mul(d).intoArray(dst, off + v);
                ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).sub(8).convert(VectorOperators.I2F, 0))
                        .mul(d).intoArray(dst, off + 16 + v);
            }
        }


        /**
         * With sixteen float lanes, the sixteen levels {@code q − 8} of a block, times its scale, fill one register,
         * and each nibble picks its weight by a lane permutation: one multiply per block makes the table, instead of
         * two int-to-float conversions per block and a separate scale. (Measured on the 2-core AVX-512 machine,
         * 2026-11-26, two threads streaming 11,008 × 4,096 matrices: 33.4 against 27.7 billion weights/s, with the row
         * slice below.) Narrower vectors take {@link #dot(int, float[], int, float[])}.
         */
        static final boolean LEVEL_TABLE = F.length() == 16;
        private static final FloatVector LEVELS = LEVEL_TABLE ? FloatVector.fromArray(F,
                new float[]{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7}, 0) : null;

        @Override
        public float dot(int r, float[] x, int xo) {
            return LEVEL_TABLE ? dotByTable(r, x, xo) : dot(r, x, xo, blockSums(x, xo, cols()));
        }

        /**
         * {@code Σ (d·(q − 8))·x} with the block's sixteen scaled levels as a lane table: the low nibble of each
         * zero-extended byte indexes it directly (indices wrap modulo the lane count), the high nibble after a shift.
         */
        private float dotByTable(int r, float[] x, int xo) {
            int blocks = cols() / BLOCK;
            // Addressing a slice of the row instead of the whole tensor measured about 10% faster on one core (the
            // same change slowed Q8_0's kernel, so it stays there as it was).
            MemorySegment row = data.asSlice((long) r * blocks * 18, (long) blocks * 18);
            FloatVector levels = LEVELS;
            FloatVector lo = FloatVector.zero(F);
            FloatVector hi = FloatVector.zero(F);
            for (int b = 0; b < blocks; b++) {
                long bo = (long) b * 18;
                int xb = xo + b * BLOCK;
                IntVector table = levels.mul(Float.float16ToFloat(row.get(I16_LE, bo))).reinterpretAsInts();
                IntVector q = (IntVector) ByteVector.fromMemorySegment(B, row, bo + 2, java.nio.ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                lo = q.selectFrom(table).reinterpretAsFloats().fma(FloatVector.fromArray(F, x, xb), lo);
                hi = q.lanewise(VectorOperators.LSHR, 4).selectFrom(table).reinterpretAsFloats()
                        .fma(FloatVector.fromArray(F, x, xb + 16), hi);
            }
            return VectorOps.sumLanes(lo.add(hi));
        }

        /**
         * Dot product given the sums of x over each 32-value block: {@code Σ d·(q − 8)·x = Σ d·(q·x) − 8·Σ d·Σx}, so
         * the offset costs one scalar multiply-add per block instead of a vector subtraction per half-block. Nibbles
         * are widened to int lanes first, where shifts and masks are single instructions (x86 has no byte shifts).
         */
        public float dot(int r, float[] x, int xo, float[] blockSums) {
            int blocks = cols() / BLOCK;
            long base = (long) r * blocks * 18;
            FloatVector acc = FloatVector.zero(F);
            float offset = 0f;
            for (int b = 0; b < blocks; b++) {
                long bo = base + (long) b * 18;
                int xb = xo + b * BLOCK;
                float d = Float.float16ToFloat(data.get(I16_LE, bo));
                FloatVector sum = FloatVector.zero(F);
                for (int v = 0; v < 16; v += F.length()) {
                    IntVector q = (IntVector) ByteVector.fromMemorySegment(B, data, bo + 2 + v, java.nio.ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
                    FloatVector lo = (FloatVector) q.and(0x0f).convert(VectorOperators.I2F, 0);
                    FloatVector hi = (FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0);
                    sum = lo.fma(FloatVector.fromArray(F, x, xb + v), sum);
                    sum = hi.fma(FloatVector.fromArray(F, x, xb + 16 + v), sum);
                }
                acc = sum.fma(FloatVector.broadcast(F, d), acc);
                offset += d * blockSums[b];
            }
            return VectorOps.sumLanes(acc) - 8f * offset;
        }
    }
}
