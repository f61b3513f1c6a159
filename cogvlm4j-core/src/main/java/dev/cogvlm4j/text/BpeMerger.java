package dev.cogvlm4j.text;

import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;

/**
 * Byte-pair merging over a sequence of symbols: repeatedly join the adjacent pair with the best priority (lowest
 * value), leftmost on ties, until no pair can be merged. A priority queue with lazy invalidation keeps long inputs
 * (a 2,000-character paragraph, a run of 100 spaces) near O(n log n).
 */
final class BpeMerger {
    /** Priority of merging two adjacent symbols, or {@link Double#NaN} when they cannot merge. */
    @FunctionalInterface
    interface Priority {
        double of(String left, String right);
    }

    private record Candidate(double priority, int pos, String left, String right) {
    }

    private BpeMerger() {
    }

    static List<String> merge(List<String> initial, Priority priority) {
        int n = initial.size();
        if (n < 2) {
            return initial;
        }
        String[] sym = initial.toArray(new String[0]);
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        PriorityQueue<Candidate> queue = new PriorityQueue<>((a, b) -> a.priority() != b.priority()
                ? Double.compare(a.priority(), b.priority()) : Integer.compare(a.pos(), b.pos()));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, priority, i, sym[i], sym[i + 1]);
        }
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            int l = c.pos();
            int r = next[l];
            if (sym[l] == null || r < 0 || !sym[l].equals(c.left()) || !sym[r].equals(c.right())) {
                continue;
            }
            sym[l] = c.left() + c.right();
            sym[r] = null;
            next[l] = next[r];
            if (next[r] >= 0) {
                prev[next[r]] = l;
            }
            if (prev[l] >= 0) {
                offer(queue, priority, prev[l], sym[prev[l]], sym[l]);
            }
            if (next[l] >= 0) {
                offer(queue, priority, l, sym[l], sym[next[l]]);
            }
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i >= 0; i = next[i]) {
            out.add(sym[i]);
        }
        return out;
    }

    private static void offer(PriorityQueue<Candidate> q, Priority p, int pos, String left, String right) {
        double pr = p.of(left, right);
        if (!Double.isNaN(pr)) {
            q.add(new Candidate(pr, pos, left, right));
        }
    }

    /** Splits a string into code points, each as its own string. */
    static List<String> codePoints(String s) {
        List<String> out = new ArrayList<>(s.length());
        s.codePoints().forEach(cp -> out.add(new String(Character.toChars(cp))));
        return out;
    }
}
