package dev.cogvlm4j.tensor;

/** Element types a checkpoint or a reference file may store, with their safetensors names and sizes. */
public enum DType {
    F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1),
    /** ggml Q8_0: blocks of 32 int8 values with one fp16 scale (34 bytes); {@link #bytes()} is per block. */
    Q8_0(34),
    /** ggml Q4_0: blocks of 32 4-bit values, offset 8, with one fp16 scale (18 bytes); {@link #bytes()} is per block. */
    Q4_0(18);

    /** Elements per quantization block. */
    public static final int BLOCK = 32;

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes (of one 32-element block for the quantized types). */
    public int bytes() {
        return bytes;
    }

    /** True for block-quantized types. */
    public boolean isQuantized() {
        return this == Q8_0 || this == Q4_0;
    }

    /** Bytes needed for {@code elements} values (a multiple of 32 for quantized types). */
    public long byteSize(long elements) {
        return isQuantized() ? elements / BLOCK * bytes : elements * bytes;
    }

    /** True for the types a weight may be stored in. */
    public boolean isWeightType() {
        return this == F32 || this == F16 || this == BF16 || isQuantized();
    }

    /** Parses a safetensors dtype name, or returns null when it is unknown. */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.name().equals(name) && !t.isQuantized()) {
                return t;
            }
        }
        return null;
    }
}
