package dev.cogvlm4j.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A weight read in place from a memory-mapped checkpoint: one subclass per storage type, never copied to the heap.
 *
 * <p>Matrices are viewed as {@code [rows, cols]} with the last dimension contiguous, which is how PyTorch stores an
 * {@code nn.Linear} weight {@code [out_features, in_features]} and a convolution kernel flattened per output channel.
 */
public abstract sealed class Tensor permits Tensor.F32, Tensor.BF16, Tensor.F16, QuantizedTensor {
    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    protected final String name;
    protected final long[] shape;
    protected final MemorySegment data;
    protected final long size;

    Tensor(String name, long[] shape, MemorySegment data) {
        this.name = name;
        this.shape = shape.clone();
        this.data = data;
        this.size = Shapes.elements(shape);
    }

    /** Wraps a mapped segment holding {@code shape} elements of {@code type}. */
    public static Tensor of(String name, DType type, long[] shape, MemorySegment data) {
        return switch (type) {
            case F32 -> new F32(name, shape, data);
            case BF16 -> new BF16(name, shape, data);
            case F16 -> new F16(name, shape, data);
            case Q8_0 -> new QuantizedTensor.Q8_0(name, shape, data);
            case Q4_0 -> new QuantizedTensor.Q4_0(name, shape, data);
            default -> throw new IllegalArgumentException(
                    "tensor '" + name + "' has dtype " + type + ", which is not a weight type (F32, F16, BF16)");
        };
    }

    /** Wraps a heap array as an F32 tensor (for computed or test weights). */
    public static Tensor ofFloats(String name, float[] values, long... shape) {
        MemorySegment seg = MemorySegment.ofArray(values);
        return new F32(name, shape, seg);
    }

    /** The checkpoint name this tensor was read under. */
    public String name() {
        return name;
    }

    /** The tensor's shape, outermost dimension first. */
    public long[] shape() {
        return shape.clone();
    }

    /** The storage type. */
    public abstract DType dtype();

    /** Total number of elements. */
    public long size() {
        return size;
    }

    /** Rows of the matrix view: the first dimension (1 for a vector). */
    public int rows() {
        return shape.length < 2 ? 1 : Math.toIntExact(shape[0]);
    }

    /**
     * Columns of the matrix view: all dimensions after the first flattened, so a convolution kernel
     * {@code [out, C, kh, kw]} is an {@code [out, C·kh·kw]} matrix.
     */
    public int cols() {
        if (shape.length < 2) {
            return Math.toIntExact(size);
        }
        return shape[0] == 0 ? 0 : Math.toIntExact(size / shape[0]);
    }

    /** Element {@code i} in row-major order, widened to float. */
    public abstract float get(long i);

    /** Widens {@code n} elements starting at element {@code from} into {@code dst[off..off+n)}. */
    public void read(long from, float[] dst, int off, int n) {
        for (int i = 0; i < n; i++) {
            dst[off + i] = get(from + i);
        }
    }

    /** Dot product of row {@code r} of the matrix view with {@code x[xo..xo+cols)}, read in the stored type. */
    public float dot(int r, float[] x, int xo) {
        int k = cols();
        float[] row = new float[k];
        readRow(r, row, 0);
        return VectorOps.dot(row, 0, x, xo, k);
    }

    /** Bytes of storage. */
    public long byteSize() {
        return data.byteSize();
    }

    /**
     * Drops this tensor's pages from the process's resident memory when it is memory-mapped; the next read faults
     * them back in (from the page cache while the OS keeps it). No effect on heap tensors.
     */
    public void unload() {
        if (data.isMapped()) {
            data.unload();
        }
    }

    /** The mapped bytes (for writers that copy a tensor unchanged). */
    public MemorySegment segment() {
        return data;
    }

    /** Widens row {@code r} of the matrix view into {@code dst[off..off+cols)}. */
    public final void readRow(int r, float[] dst, int off) {
        read((long) r * cols(), dst, off, cols());
    }

    /** The whole tensor as floats (for small tensors: norms, biases, embeddings of a few rows). */
    public final float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(size)];
        read(0, out, 0, out.length);
        return out;
    }

    @Override
    public String toString() {
        return name + " " + dtype() + " " + Arrays.toString(shape);
    }

    /** IEEE single precision, little-endian. */
    public static final class F32 extends Tensor {
        F32(String name, long[] shape, MemorySegment data) {
            super(name, shape, data);
        }

        @Override
        public DType dtype() {
            return DType.F32;
        }

        @Override
        public float get(long i) {
            return data.get(F32_LE, i * 4);
        }

        @Override
        public void read(long from, float[] dst, int off, int n) {
            MemorySegment.copy(data, F32_LE, from * 4, dst, off, n);
        }

        @Override
        public float dot(int r, float[] x, int xo) {
            return VectorOps.dotF32(data, (long) r * cols() * 4, x, xo, cols());
        }
    }

    /** bfloat16: the top half of an IEEE single, widened by a 16-bit shift. */
    public static final class BF16 extends Tensor {
        BF16(String name, long[] shape, MemorySegment data) {
            super(name, shape, data);
        }

        @Override
        public DType dtype() {
            return DType.BF16;
        }

        @Override
        public float get(long i) {
            return Float.intBitsToFloat((data.get(I16_LE, i * 2) & 0xffff) << 16);
        }

        @Override
        public void read(long from, float[] dst, int off, int n) {
            VectorOps.widenBf16(data, from * 2, dst, off, n);
        }

        @Override
        public float dot(int r, float[] x, int xo) {
            return VectorOps.dotBf16(data, (long) r * cols() * 2, x, xo, cols());
        }
    }

    /** IEEE half precision. */
    public static final class F16 extends Tensor {
        F16(String name, long[] shape, MemorySegment data) {
            super(name, shape, data);
        }

        @Override
        public DType dtype() {
            return DType.F16;
        }

        @Override
        public float get(long i) {
            return Float.float16ToFloat(data.get(I16_LE, i * 2));
        }
    }
}
