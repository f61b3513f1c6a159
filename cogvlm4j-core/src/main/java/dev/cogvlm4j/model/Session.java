package dev.cogvlm4j.model;

/**
 * One conversation's decoding state: the KV cache and the last position id. Feed a prompt with
 * {@link #prefill}, then one token at a time with {@link #next}.
 */
public final class Session {
    private final CogVlmModel model;
    private final KvCache cache;
    private int lastPosition = -1;

    Session(CogVlmModel model) {
        this.model = model;
        this.cache = model.newCache();
    }

    /** Tokens in the cache. */
    public int length() {
        return cache.length();
    }

    /** True while another token fits in the model's context. */
    public boolean hasRoom() {
        return lastPosition + 1 < model.config().maxPositions();
    }

    /**
     * Runs a prompt through the decoder. Returns logits {@code [L, V]} for every position when {@code allLogits},
     * else {@code [V]} for the last one.
     */
    public float[] prefill(ModelInput input, ImageFeatures image, boolean allLogits) {
        CogVlmConfig c = model.config();
        int n = input.length();
        if (n == 0) {
            throw new IllegalArgumentException("empty input");
        }
        int slots = input.imageSlots();
        if (slots > 0) {
            if (image == null) {
                throw new IllegalArgumentException("token_type_ids mark " + slots + " image slots but no image was given");
            }
            if (slots != image.tokens()) {
                throw new IllegalArgumentException("token_type_ids mark " + slots + " image slots but the image fills "
                        + image.tokens());
            }
        } else {
            model.requireImageIfNeeded(false);
        }
        if (cache.length() != 0) {
            throw new IllegalStateException("prefill needs a fresh session");
        }
        int maxPos = input.positionIds()[n - 1];
        if (maxPos >= c.maxPositions()) {
            throw new IllegalArgumentException("the prompt needs " + (maxPos + 1) + " positions but the model's context is "
                    + c.maxPositions());
        }
        cache.ensure(n);
        if (image != null && image.crossOut() != null) {
            model.prepareCross(image, cache);
        }
        float[] hidden = model.embed(input.inputIds(), input.tokenTypeIds(), slots > 0 ? image : null);
        Routing routing = new Routing(PositionIds.visionExpertMask(input.tokenTypeIds()));
        model.layers(hidden, n, routing, input.positionIds(), cache, 0);
        cache.advance(n);
        lastPosition = maxPos;
        return model.logits(hidden, n, allLogits ? 0 : n - 1);
    }

    /**
     * Continues a session whose cache holds the first {@code from} tokens of {@code input} (a shared prefix) with
     * the rest of it. The prefix's keys and values are exactly those a full prefill would compute: attention is
     * causal, and the prefix ends after the image, where routing does not depend on what follows.
     */
    public float[] extend(ModelInput input, int from, ImageFeatures image, boolean allLogits) {
        int n = input.length();
        if (from <= 0 || from >= n || from > cache.length()) {
            throw new IllegalArgumentException("cannot extend a " + cache.length() + "-token cache from " + from + " to " + n);
        }
        CogVlmConfig c = model.config();
        int maxPos = input.positionIds()[n - 1];
        if (maxPos >= c.maxPositions()) {
            throw new IllegalArgumentException("the prompt needs " + (maxPos + 1) + " positions but the model's context is "
                    + c.maxPositions());
        }
        cache.truncate(from);
        int m = n - from;
        int[] ids = java.util.Arrays.copyOfRange(input.inputIds(), from, n);
        int[] types = java.util.Arrays.copyOfRange(input.tokenTypeIds(), from, n);
        int[] positions = java.util.Arrays.copyOfRange(input.positionIds(), from, n);
        int slotsBefore = 0;
        for (int i = 0; i < from; i++) {
            slotsBefore += input.tokenTypeIds()[i];
        }
        for (int t : types) {
            if (t == PositionIds.VISION) {
                throw new IllegalArgumentException("the shared prefix must contain the whole image (" + slotsBefore + " slots cached)");
            }
        }
        cache.ensure(n);
        float[] hidden = model.embed(ids, types, null);
        Routing routing = new Routing(PositionIds.visionExpertMask(types));
        model.layers(hidden, m, routing, positions, cache, from);
        cache.advance(m);
        lastPosition = maxPos;
        return model.logits(hidden, m, allLogits ? 0 : m - 1);
    }

    /** Appends one generated (text) token and returns the logits for the token after it. */
    public float[] next(int token) {
        CogVlmConfig c = model.config();
        int position = lastPosition + 1;
        if (position >= c.maxPositions()) {
            throw new IllegalStateException("context of " + c.maxPositions() + " positions is full");
        }
        cache.ensure(cache.length() + 1);
        int[] ids = {token};
        int[] types = {PositionIds.LANGUAGE};
        float[] hidden = model.embed(ids, types, null);
        Routing routing = new Routing(new boolean[1]);
        model.layers(hidden, 1, routing, new int[]{position}, cache, cache.length());
        cache.advance(1);
        lastPosition = position;
        return model.logits(hidden, 1, 0);
    }
}
