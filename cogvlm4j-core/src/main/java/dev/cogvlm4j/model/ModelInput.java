package dev.cogvlm4j.model;

/**
 * The token sequence the decoder sees, as {@code build_conversation_input_ids} lays it out:
 * {@code [bos] + [pad] × (n + 2) + text} with an image, {@code [bos] + text} without.
 *
 * @param inputIds     token ids (image slots hold the pad id, never embedded)
 * @param tokenTypeIds 1 for image slots, 0 for text
 * @param positionIds  rotary positions from {@link PositionIds#build}
 */
public record ModelInput(int[] inputIds, int[] tokenTypeIds, int[] positionIds) {

    /** Lays out a prompt's text ids after bos and, when {@code imageTokens > 0}, the image slots. */
    public static ModelInput of(CogVlmConfig config, int[] textIds, int imageTokens) {
        int n = 1 + imageTokens + textIds.length;
        int[] ids = new int[n];
        int[] types = new int[n];
        ids[0] = config.bosId();
        for (int i = 0; i < imageTokens; i++) {
            ids[1 + i] = config.imagePadId();
            types[1 + i] = PositionIds.VISION;
        }
        System.arraycopy(textIds, 0, ids, 1 + imageTokens, textIds.length);
        return new ModelInput(ids, types, PositionIds.build(types));
    }

    /** Wraps raw ids and token types (positions derived). */
    public static ModelInput raw(int[] inputIds, int[] tokenTypeIds) {
        if (inputIds.length != tokenTypeIds.length) {
            throw new IllegalArgumentException("input_ids has " + inputIds.length + " entries but token_type_ids has "
                    + tokenTypeIds.length);
        }
        for (int t : tokenTypeIds) {
            if (t != PositionIds.LANGUAGE && t != PositionIds.VISION) {
                throw new IllegalArgumentException("token_type_ids may hold only 0 (text) and 1 (image), got " + t);
            }
        }
        return new ModelInput(inputIds, tokenTypeIds, PositionIds.build(tokenTypeIds));
    }

    /** Sequence length. */
    public int length() {
        return inputIds.length;
    }

    /** Number of image slots. */
    public int imageSlots() {
        int s = 0;
        for (int t : tokenTypeIds) {
            s += t;
        }
        return s;
    }
}
