package dev.cogvlm4j.train.model;

import dev.cogvlm4j.train.nn.Param;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One worker's gradient buffers. Data-parallel workers each accumulate into their own, and the step adds them into
 * the parameters' gradients in a fixed order, so a run is reproducible to the bit. Frozen parameters have no buffer:
 * asking for one returns null, which tells the backward pass to skip that weight product altogether.
 */
public final class Grads {
    private final Map<String, Param> params;
    private final Map<String, float[]> buffers = new HashMap<>();

    /** Empty buffers for the parameters of {@code net}. */
    public Grads(CogVlmNet net) {
        this.params = net.paramMap();
    }

    /** The buffer of a trainable parameter, or null when it is frozen. */
    public float[] of(String name) {
        Param p = params.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no parameter " + name);
        }
        if (p.frozen()) {
            return null;
        }
        return buffers.computeIfAbsent(name, k -> new float[p.value().length]);
    }

    /** Adds these buffers into the parameters' gradients and clears them. */
    public void drainInto(List<Param> order) {
        for (Param p : order) {
            float[] b = buffers.get(p.name());
            if (b == null) {
                continue;
            }
            float[] g = p.grad();
            for (int i = 0; i < b.length; i++) {
                g[i] += b[i];
                b[i] = 0f;
            }
        }
    }
}
