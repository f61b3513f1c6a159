package dev.cogvlm4j.bench;

import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.CogVlmModel;

/** How many bytes one decoded token must read: the language half of every layer, the head, the caches. */
final class DecodeTraffic {
    private DecodeTraffic() {
    }

    /** Bytes read per generated token at full depth with {@code cached} tokens in the KV cache. */
    static double bytesPerToken(CogVlmModel m, int realLayers, int cached) {
        Checkpoint ck = m.checkpoint();
        CogVlmConfig c = m.config();
        double perLayer = 0;
        for (Checkpoint.Entry e : ck.entries()) {
            String n = e.name();
            if (n.startsWith("model.layers.0.") && !n.contains("vision_")) {
                perLayer += e.bytes().byteSize();
            }
        }
        double kv = 2.0 * cached * c.numKvHeads() * c.headDim() * Float.BYTES;
        double cross = c.cross() != null ? 2.0 * c.cross().grid() * c.cross().grid() * c.cross().computeHiddenSize() * Float.BYTES : 0;
        return realLayers * (perLayer + kv + cross) + ck.entry("lm_head.weight").bytes().byteSize();
    }

    /** Weight bytes of the layers the benchmark did not build: {language model, towers}. */
    static long[] missingWeightBytes(CogVlmModel m, int[] depth) {
        Checkpoint ck = m.checkpoint();
        CogVlmConfig c = m.config();
        long lm = 0;
        long vis = 0;
        long cross = 0;
        for (Checkpoint.Entry e : ck.entries()) {
            String n = e.name();
            long b = e.bytes().byteSize();
            if (n.startsWith("model.layers.")) {
                lm += b;
            } else if (n.startsWith("model.vision.transformer.layers.")) {
                vis += b;
            } else if (n.startsWith("model.cross_vision.vit.model.blocks.")) {
                cross += b;
            }
        }
        long missingLm = lm / c.numLayers() * (depth[0] - c.numLayers());
        long missingTowers = vis / c.vision().numLayers() * (depth[1] - c.vision().numLayers());
        if (c.cross() != null) {
            missingTowers += cross / c.cross().layers() * (depth[2] - c.cross().layers());
        }
        return new long[]{missingLm, missingTowers};
    }
}
