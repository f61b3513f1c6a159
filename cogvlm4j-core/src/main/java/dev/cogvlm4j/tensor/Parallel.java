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
