package dev.cogvlm4j.server;

import java.util.List;

/**
 * Applies OpenAI {@code stop} strings to streamed text: text is released only once it cannot be the start of a
 * stop string, and everything from the first stop string on is dropped.
 */
final class StopFilter {
    private final List<String> stops;
    private final int hold;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    StopFilter(List<String> stops) {
        this.stops = stops;
        int h = 0;
        for (String s : stops) {
            h = Math.max(h, s.length() - 1);
        }
        this.hold = h;
    }

    /** True once a stop string was seen. */
    boolean stopped() {
        return stopped;
    }

    /** Adds generated text and returns what may be shown now. */
    String push(String piece) {
        if (stopped) {
            return "";
        }
        pending.append(piece);
        int cut = -1;
        for (String s : stops) {
            int at = pending.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) {
                cut = at;
            }
        }
        if (cut >= 0) {
            stopped = true;
            String out = pending.substring(0, cut);
            pending.setLength(0);
            return out;
        }
        int release = Math.max(0, pending.length() - hold);
        if (release > 0 && Character.isHighSurrogate(pending.charAt(release - 1))) {
            release--;
        }
        String out = pending.substring(0, release);
        pending.delete(0, release);
        return out;
    }

    /** Releases what is held back at the end of generation. */
    String finish() {
        if (stopped) {
            return "";
        }
        String out = pending.toString();
        pending.setLength(0);
        return out;
    }
}
