package dev.cogvlm4j.model;

/**
 * The rows of one forward chunk split by expert. Each expert's rows are gathered into a contiguous block, pushed
 * through that expert's weights with one matrix multiply, and scattered back.
 */
final class Routing {
    final int[] visionRows;
    final int[] languageRows;
    final int n;

    Routing(boolean[] visionMask) {
        n = visionMask.length;
        int v = 0;
        for (boolean b : visionMask) {
            if (b) {
                v++;
            }
        }
        visionRows = new int[v];
        languageRows = new int[n - v];
        int vi = 0;
        int li = 0;
        for (int i = 0; i < n; i++) {
            if (visionMask[i]) {
                visionRows[vi++] = i;
            } else {
                languageRows[li++] = i;
            }
        }
    }

    /** Copies the listed rows of {@code x [*, dim]} into a contiguous block (or returns x when all rows are listed). */
    static float[] gather(float[] x, int dim, int[] rows, int total) {
        if (rows.length == total) {
            return x;
        }
        float[] out = new float[rows.length * dim];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(x, rows[i] * dim, out, i * dim, dim);
        }
        return out;
    }

    /** Writes a contiguous block back to the listed rows of {@code dst [*, dim]}. */
    static void scatter(float[] block, int dim, int[] rows, float[] dst) {
        if (block == dst) {
            return;
        }
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(block, i * dim, dst, rows[i] * dim, dim);
        }
    }
}
