package dev.cogvlm4j.bench;

import dev.cogvlm4j.io.Quantizer;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Random weights of any shape and storage type, in off-heap memory, for benchmarks. */
public final class RandomWeights {
    private RandomWeights() {
    }

    /** A tensor of uniform random values in ±0.05, stored as {@code type}. */
    public static Tensor tensor(String name, DType type, long[] shape, long seed) {
        long n = dev.cogvlm4j.tensor.Shapes.elements(shape);
        MemorySegment seg = Arena.ofAuto().allocate(type.byteSize(n), 64);
        SplittableRandom r = new SplittableRandom(seed);
        int chunk = 1 << 16;
        float[] buf = new float[chunk];
        for (long done = 0; done < n; done += chunk) {
            int len = (int) Math.min(chunk, n - done);
            for (int i = 0; i < len; i++) {
                buf[i] = (float) r.nextDouble(-0.05, 0.05);
            }
            Quantizer.encode(buf, len, type, seg, type.byteSize(done));
        }
        return Tensor.of(name, type, shape, seg);
    }
}
