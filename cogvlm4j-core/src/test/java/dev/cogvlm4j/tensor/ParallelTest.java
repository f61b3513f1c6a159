package dev.cogvlm4j.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The shared pool: every index runs exactly once, failures reach the caller, nesting and rival callers never hang. */
@Timeout(60)
class ParallelTest {

    @Test
    void everyIndexRunsExactlyOnceAcrossManyJobs() {
        for (int n : new int[]{1, 2, 3, 17, 1000}) {
            for (int job = 0; job < 200; job++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                Parallel.range(n, hits::incrementAndGet);
                for (int i = 0; i < n; i++) {
                    assertEquals(1, hits.get(i), "n=" + n + " index " + i);
                }
            }
        }
    }

    @Test
    void rangesCoverTheArrayInAlignedPieces() {
        int n = 1003;
        int[] seen = new int[n];
        Parallel.ranges(n, 10, 8, (from, to) -> {
            assertEquals(0, from % 8);
            for (int i = from; i < to; i++) {
                seen[i]++;
            }
        });
        int[] once = new int[n];
        java.util.Arrays.fill(once, 1);
        assertArrayEquals(once, seen);
    }

    @Test
    void aFailureReachesTheCallerAndThePoolKeepsWorking() {
        IllegalStateException boom = new IllegalStateException("boom");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> Parallel.range(64, i -> {
            if (i == 37) {
                throw boom;
            }
        }));
        assertSame(boom, thrown);
        AtomicIntegerArray hits = new AtomicIntegerArray(64);
        Parallel.range(64, hits::incrementAndGet);
        for (int i = 0; i < 64; i++) {
            assertEquals(1, hits.get(i));
        }
    }

    @Test
    void nestedCallsRunInline() {
        AtomicIntegerArray hits = new AtomicIntegerArray(16 * 16);
        Parallel.range(16, i -> Parallel.range(16, j -> hits.incrementAndGet(i * 16 + j)));
        for (int i = 0; i < 256; i++) {
            assertEquals(1, hits.get(i));
        }
    }

    @Test
    void rivalCallersFromOtherThreadsBothFinish() throws Exception {
        int callers = 4;
        CountDownLatch start = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long[] sums = new long[callers];
        Thread[] threads = new Thread[callers];
        for (int c = 0; c < callers; c++) {
            int id = c;
            threads[c] = new Thread(() -> {
                try {
                    start.await();
                    for (int job = 0; job < 300; job++) {
                        java.util.concurrent.atomic.AtomicLong sum = new java.util.concurrent.atomic.AtomicLong();
                        Parallel.range(100, i -> sum.addAndGet(i));
                        sums[id] += sum.get();
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            threads[c].start();
        }
        start.countDown();
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(50));
        }
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        for (long s : sums) {
            assertEquals(300L * 4950, s);
        }
    }
}
