package dev.cogvlm4j.tensor;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * The engine's one thread pool, shared by every kernel: {@code threads − 1} persistent workers plus the calling
 * thread, which takes its share of every job (the machine's core count, or {@code -Dcogvlm4j.threads}).
 *
 * <p>Decoding calls the pool a few hundred times per token for jobs of about a millisecond, so the cost of handing
 * out work matters as much as the work. Workers take indices from one shared counter, and after a job they spin for
 * {@value #SPIN_NANOS} ns before parking, so back-to-back jobs find them awake; a fork-join pool, which wakes a
 * parked worker per job and leaves the caller idle, lost about a quarter of a two-core matrix-vector product.
 *
 * <p>One job runs at a time. A call made while another is running (from inside a job, or from a second
 * application thread) runs its indices on the calling thread, so nesting never deadlocks.
 */
public final class Parallel {
    private static final int THREADS = Math.max(1, Integer.getInteger("cogvlm4j.threads",
            Runtime.getRuntime().availableProcessors()));
    /** How long an idle worker, or a caller waiting for the last index, spins before it parks. */
    static final long SPIN_NANOS = 100_000;
    private static final Pool POOL = THREADS > 1 ? new Pool(THREADS - 1) : null;

    private Parallel() {
    }

    /** Threads that run kernels, the caller's included. */
    public static int threads() {
        return THREADS;
    }

    /** Runs {@code body(i)} for {@code i} in {@code [0, n)}, spread over the pool; returns when all are done. */
    public static void range(int n, IntConsumer body) {
        if (n <= 0) {
            return;
        }
        if (POOL == null || n == 1 || !POOL.tryRun(n, body)) {
            for (int i = 0; i < n; i++) {
                body.accept(i);
            }
        }
    }

    /** A half-open range of indices. */
    public interface Range {
        void run(int from, int to);
    }

    /**
     * Splits {@code [0, n)} into contiguous ranges of at least {@code grain} indices (a multiple of {@code align}
     * each, but the last), at most four per thread, and runs them on the pool: for work on every element or row of
     * a large array, where one task per index would cost more in hand-offs than it saves.
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

    /** One call's indices, taken in turn by whichever thread is free. */
    private static final class Job {
        /** The job's number in the pool's sequence, so workers can tell a new job without holding the old one. */
        final long id;
        final int n;
        final IntConsumer body;
        final Thread caller = Thread.currentThread();
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger left;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        volatile boolean callerParked;

        Job(long id, int n, IntConsumer body) {
            this.id = id;
            this.n = n;
            this.body = body;
            this.left = new AtomicInteger(n);
        }

        /** Runs indices until none is left to take. After a failure the remaining indices are skipped. */
        void work() {
            for (int i; (i = next.getAndIncrement()) < n; ) {
                if (failure.get() == null) {
                    try {
                        body.accept(i);
                    } catch (Throwable t) {
                        failure.compareAndSet(null, t);
                    }
                }
                if (left.decrementAndGet() == 0 && callerParked) {
                    LockSupport.unpark(caller);
                }
            }
        }

        /** Waits, spinning first, until every index has finished. */
        void awaitDone() {
            long start = System.nanoTime();
            while (left.get() > 0 && System.nanoTime() - start < SPIN_NANOS) {
                Thread.onSpinWait();
            }
            if (left.get() > 0) {
                callerParked = true;
                while (left.get() > 0) {
                    LockSupport.park(this);
                }
            }
        }
    }

    private static final class Pool {
        private final AtomicBoolean busy = new AtomicBoolean();
        private final Worker[] workers;
        private volatile Job job;
        /** Jobs started, written only by the caller holding {@link #busy}. */
        private long started;

        Pool(int size) {
            workers = new Worker[size];
            for (int w = 0; w < size; w++) {
                workers[w] = new Worker(this);
                Thread t = new Thread(workers[w], "cogvlm4j-worker-" + (w + 1));
                t.setDaemon(true);
                workers[w].thread = t;
                t.start();
            }
        }

        /** Runs the job with the workers and the calling thread; false, running nothing, if a job is in progress. */
        boolean tryRun(int n, IntConsumer body) {
            if (!busy.compareAndSet(false, true)) {
                return false;
            }
            Job j = new Job(++started, n, body);
            try {
                job = j;
                for (Worker w : workers) {
                    if (w.parked) {
                        LockSupport.unpark(w.thread);
                    }
                }
                j.work();
                j.awaitDone();
            } finally {
                job = null;
                busy.set(false);
            }
            Throwable t = j.failure.get();
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException(t);
            }
            return true;
        }
    }

    private static final class Worker implements Runnable {
        private final Pool pool;
        Thread thread;
        volatile boolean parked;

        Worker(Pool pool) {
            this.pool = pool;
        }

        @Override
        public void run() {
            long seen = 0;
            while (true) {
                Job j = awaitAfter(seen);
                seen = j.id;
                j.work();
            }
        }

        /** The first job numbered after {@code seen}: spins a while after a job, then parks until one is published. */
        private Job awaitAfter(long seen) {
            long start = System.nanoTime();
            while (true) {
                Job j = pool.job;
                if (j != null && j.id > seen) {
                    return j;
                }
                if (System.nanoTime() - start < SPIN_NANOS) {
                    Thread.onSpinWait();
                    continue;
                }
                // Published-then-checked on both sides: the caller writes the job and then reads this flag, the
                // worker writes the flag and then reads the job, so one of them always sees the other.
                parked = true;
                j = pool.job;
                if (j == null || j.id <= seen) {
                    LockSupport.park(this);
                }
                parked = false;
                start = System.nanoTime();
            }
        }
    }
}
