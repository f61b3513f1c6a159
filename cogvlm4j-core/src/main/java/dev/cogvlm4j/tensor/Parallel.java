package dev.cogvlm4j.tensor;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/**
 * The engine's one thread pool: a fork-join pool sized to the machine (or {@code -Dcogvlm4j.threads}), shared by
 * every kernel, so threads persist across calls and are never created in a hot loop.
 */
public final class Parallel {
    private static final int THREADS = Integer.getInteger("cogvlm4j.threads",
            Runtime.getRuntime().availableProcessors());
    private static final ForkJoinPool POOL = THREADS > 1 ? new ForkJoinPool(THREADS) : null;

    private Parallel() {
    }

    /** Worker threads used by kernels. */
    public static int threads() {
        return THREADS;
    }

    /** Runs {@code body(i)} for {@code i} in {@code [0, n)}, spread over the pool; returns when all are done. */
    public static void range(int n, IntConsumer body) {
        if (n <= 0) {
            return;
        }
        if (POOL == null || n == 1 || ForkJoinTask.inForkJoinPool()) {
            for (int i = 0; i < n; i++) {
                body.accept(i);
            }
            return;
        }
        POOL.invoke(new Split(0, n, body));
    }

    /** A half-open range of indices. */
    public interface Range {
        void run(int from, int to);
    }

    /**
     * Splits {@code [0, n)} into contiguous ranges of at least {@code grain} indices (a multiple of {@code align}
     * each, but the last), at most four per thread, and runs them on the pool: for work on every element or row of
     * a large array, where one task per index would cost more in fork-joins than it saves.
     */
    public static void ranges(int n, long grain, int align, Range body) {
        if (n <= 0) {
            return;
        }
        int parts = (int) Math.max(1, Math.min(4L * THREADS, n / Math.max(1, grain)));
        int per = (n + parts - 1) / parts;
        int step = (per + align - 1) / align * align;
        range((n + step - 1) / step, c -> body.run(c * step, Math.min(n, c * step + step)));
    }

    private static final class Split extends RecursiveAction {
        private final int from;
        private final int to;
        private final IntConsumer body;

        Split(int from, int to, IntConsumer body) {
            this.from = from;
            this.to = to;
            this.body = body;
        }

        @Override
        protected void compute() {
            if (to - from == 1) {
                body.accept(from);
                return;
            }
            int mid = (from + to) >>> 1;
            invokeAll(new Split(from, mid, body), new Split(mid, to, body));
        }
    }
}
