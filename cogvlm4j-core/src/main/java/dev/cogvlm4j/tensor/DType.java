package dev.cogvlm4j.tensor;

/** Element types a checkpoint or a reference file may store, with their safetensors names and sizes. */
public enum DType {
    F32(4), F16(2), BF16(2), F64(8), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** True for the floating-point types a weight may be stored in. */
    public boolean isWeightType() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** Parses a safetensors dtype name, or returns null when it is unknown. */
    public static DType fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }
}
