package dev.cogvlm4j.model;

/**
 * Position ids and expert routing from token types, as the reference's {@code build_position_ids} and
 * {@code get_expert_mask} compute them.
 */
public final class PositionIds {
    /** Token type of text tokens. */
    public static final int LANGUAGE = 0;
    /** Token type of image slots (boi, patches, eoi). */
    public static final int VISION = 1;

    private PositionIds() {
    }

    /**
     * All patches of an image share one position: the image is one "word" to the rotary embedding, so its length
     * does not push the text away. boi and eoi count as language and get positions of their own, so for an image
     * {@code bos=0, boi=1, patches=2, eoi=3, text=4, 5, …}.
     */
    public static int[] build(int[] tokenTypes) {
        int n = tokenTypes.length;
        int[] t = tokenTypes.clone();
        boolean[] boundary = new boolean[n];
        for (int i = 0; i < n; i++) {
            boolean vis = t[i] == VISION;
            if (!vis) {
                continue;
            }
            boolean first = i == 0 || t[i - 1] == LANGUAGE;
            boolean last = i == n - 1 || t[i + 1] == LANGUAGE;
            boundary[i] = first || last;
        }
        for (int i = 0; i < n; i++) {
            if (boundary[i]) {
                t[i] = LANGUAGE;
            }
        }
        int[] pos = new int[n];
        int acc = 0;
        for (int i = 1; i < n; i++) {
            if (t[i] == LANGUAGE || (t[i] == VISION && t[i - 1] == LANGUAGE)) {
                acc++;
            }
            pos[i] = acc;
        }
        return pos;
    }

    /**
     * Which rows go through the visual expert: token {@code i} does when it and its successor are image slots, so
     * boi and the patches use the vision weights while eoi, the last image slot, uses the language weights.
     */
    public static boolean[] visionExpertMask(int[] tokenTypes) {
        boolean[] mask = new boolean[tokenTypes.length];
        for (int i = 0; i + 1 < tokenTypes.length; i++) {
            mask[i] = tokenTypes[i] == VISION && tokenTypes[i + 1] == VISION;
        }
        return mask;
    }
}
