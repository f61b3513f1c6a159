package dev.cogvlm4j.io;

import dev.cogvlm4j.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Encodes floats into a storage type, as ggml does for Q8_0 and Q4_0: per block of 32, the scale is chosen from the
 * value of largest magnitude ({@code d = amax / 127} for Q8_0, {@code d = max / −8} keeping its sign for Q4_0) and
 * each value is rounded to the nearest step.
 */
public final class Quantizer {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Quantizer() {
    }

    /** Writes {@code n} values (a multiple of 32 for quantized types) at byte {@code off} of {@code dst}. */
    public static void encode(float[] src, int n, DType type, MemorySegment dst, long off) {
        switch (type) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(F32, off + 4L * i, src[i]);
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(I16, off + 2L * i, toBf16(src[i]));
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    dst.set(I16, off + 2L * i, Float.floatToFloat16(src[i]));
                }
            }
            case Q8_0 -> {
                requireBlocks(n);
                for (int b = 0; b < n / 32; b++) {
                    long bo = off + 34L * b;
                    float amax = 0;
                    for (int i = 0; i < 32; i++) {
                        amax = Math.max(amax, Math.abs(src[b * 32 + i]));
                    }
                    float d = amax / 127f;
                    float id = d != 0 ? 1f / d : 0f;
                    dst.set(I16, bo, Float.floatToFloat16(d));
                    for (int i = 0; i < 32; i++) {
                        dst.set(ValueLayout.JAVA_BYTE, bo + 2 + i, (byte) Math.round(src[b * 32 + i] * id));
                    }
                }
            }
            case Q4_0 -> {
                requireBlocks(n);
                for (int b = 0; b < n / 32; b++) {
                    long bo = off + 18L * b;
                    float amax = 0;
                    float max = 0;
                    for (int i = 0; i < 32; i++) {
                        float v = src[b * 32 + i];
                        if (Math.abs(v) > amax) {
                            amax = Math.abs(v);
                            max = v;
                        }
                    }
                    float d = max / -8f;
                    float id = d != 0 ? 1f / d : 0f;
                    dst.set(I16, bo, Float.floatToFloat16(d));
                    for (int j = 0; j < 16; j++) {
                        int lo = Math.min(15, (int) (src[b * 32 + j] * id + 8.5f));
                        int hi = Math.min(15, (int) (src[b * 32 + 16 + j] * id + 8.5f));
                        dst.set(ValueLayout.JAVA_BYTE, bo + 2 + j, (byte) (lo | hi << 4));
                    }
                }
            }
            default -> throw new IllegalArgumentException("cannot encode to " + type);
        }
    }

    /** Round-to-nearest-even bf16, as torch converts. */
    public static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    private static void requireBlocks(int n) {
        if (n % 32 != 0) {
            throw new IllegalArgumentException(n + " values are not whole 32-value blocks");
        }
    }
}
