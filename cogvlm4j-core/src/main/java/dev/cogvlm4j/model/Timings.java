package dev.cogvlm4j.model;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Nanoseconds spent in the repeated stacks (vision layers, cross-tower blocks, decoder layers), accumulated across
 * calls, so a benchmark that runs a few layers of each stack can extrapolate to the real depth.
 */
public final class Timings {
    /** Time in EVA2-CLIP-E transformer layers. */
    public static final AtomicLong VISION_LAYERS = new AtomicLong();
    /** Time in CogAgent cross-tower blocks. */
    public static final AtomicLong CROSS_BLOCKS = new AtomicLong();
    /** Time in decoder layers. */
    public static final AtomicLong DECODER_LAYERS = new AtomicLong();

    private Timings() {
    }

    /** Zeroes all counters. */
    public static void reset() {
        VISION_LAYERS.set(0);
        CROSS_BLOCKS.set(0);
        DECODER_LAYERS.set(0);
    }
}
