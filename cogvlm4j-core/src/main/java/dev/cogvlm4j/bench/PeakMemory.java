package dev.cogvlm4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Peak resident memory of this process (Linux {@code VmHWM}), resettable through {@code clear_refs}. */
public final class PeakMemory {
    private PeakMemory() {
    }

    /** Resets the high-water mark to the current resident size (best effort). */
    public static void reset() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // Not Linux or not permitted: the peak then includes earlier allocations.
        }
    }

    /** Peak resident bytes, or -1 where unavailable. */
    public static long peakBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
