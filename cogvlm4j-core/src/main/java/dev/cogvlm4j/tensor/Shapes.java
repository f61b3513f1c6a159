package dev.cogvlm4j.tensor;

/** Shape arithmetic shared by the readers, writers and tensors. */
public final class Shapes {
    private Shapes() {
    }

    /** Number of elements of a shape (1 for a scalar); throws ArithmeticException on overflow. */
    public static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
