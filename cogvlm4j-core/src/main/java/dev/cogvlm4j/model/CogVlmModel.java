package dev.cogvlm4j.model;

import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.io.ModelFormatException;
import dev.cogvlm4j.tensor.Kernels;
import dev.cogvlm4j.tensor.Tensor;
import dev.cogvlm4j.vision.CrossVisionTower;
import dev.cogvlm4j.vision.Eva2ClipTower;
import dev.cogvlm4j.vision.ImagePreprocessor;
import dev.cogvlm4j.vision.PreparedImage;
import dev.cogvlm4j.vision.RgbImage;
import java.nio.file.Path;

/**
 * A loaded CogVLM-family model: the vision tower(s) and the decoder with visual experts, all weights memory-mapped
 * from the checkpoint. Thread-safe for concurrent {@link Session}s; each session owns its KV cache.
 */
public final class CogVlmModel implements AutoCloseable {
    private final Kernels k = Kernels.get();
    private final CogVlmConfig config;
    private final Checkpoint checkpoint;
    private final Eva2ClipTower vision;
    private final CrossVisionTower crossVision;
    private final Tensor embedTokens;
    private final DecoderLayer[] layers;
    private final float[] norm;
    private final Tensor lmHead;
    final RotaryEmbedding rope;

    private CogVlmModel(Checkpoint checkpoint, CogVlmConfig config) {
        this.checkpoint = checkpoint;
        this.config = config;
        int h = config.hiddenSize();
        int vocab = config.vocabSize();
        embedTokens = checkpoint.tensor("model.embed_tokens.weight", vocab, h);
        layers = new DecoderLayer[config.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new DecoderLayer(checkpoint, config, i);
        }
        norm = checkpoint.floats("model.norm.weight", h);
        lmHead = checkpoint.tensor("lm_head.weight", vocab, h);
        vision = new Eva2ClipTower(checkpoint, config);
        crossVision = config.cross() != null ? new CrossVisionTower(checkpoint, config) : null;
        rope = new RotaryEmbedding(config.headDim(), config.ropeTheta());
    }

    /** Maps a HuggingFace model folder ({@code config.json} + safetensors) or a GGUF file and binds every weight. */
    public static CogVlmModel load(Path dir) {
        Checkpoint ckpt = Checkpoint.open(dir);
        try {
            CogVlmConfig config = CogVlmConfig.load(ckpt);
            return new CogVlmModel(ckpt, config);
        } catch (RuntimeException e) {
            ckpt.close();
            throw e;
        }
    }

    /** The model's configuration. */
    public CogVlmConfig config() {
        return config;
    }

    /** The mapped weights. */
    public Checkpoint checkpoint() {
        return checkpoint;
    }

    /** Resizes and normalises an image for this model's tower(s). */
    public PreparedImage prepare(RgbImage image) {
        return ImagePreprocessor.prepare(image, config.vision().imageSize(),
                config.cross() != null ? config.cross().imageSize() : 0);
    }

    /**
     * Runs the vision tower (and CogAgent's cross tower) on a prepared image. The towers' mapped weights are then
     * released from resident memory: the tower and the decoder are never needed at once, so peak memory is the
     * larger of the two rather than their sum (a later image faults the pages back, usually from the page cache).
     */
    public ImageFeatures encode(PreparedImage image) {
        float[] visionOut = vision.forward(image.pixelValues());
        vision.releaseWeights();
        float[] crossOut = null;
        int crossTokens = 0;
        if (crossVision != null) {
            crossOut = crossVision.forward(image.crossPixelValues());
            crossVision.releaseWeights();
            crossTokens = config.cross().grid() * config.cross().grid();
        }
        return new ImageFeatures(visionOut, config.imageTokens(), crossOut, crossTokens);
    }

    /** A new conversation state with an empty KV cache. */
    public Session newSession() {
        return new Session(this);
    }

    KvCache newCache() {
        int kvDim = config.numKvHeads() * config.headDim();
        return new KvCache(layers.length, kvDim, config.maxPositions() + config.imageTokens(), config.cross() != null);
    }

    /** Token embeddings for {@code ids}, image slots filled from {@code image} (row-major, in order). */
    float[] embed(int[] ids, int[] types, ImageFeatures image) {
        int h = config.hiddenSize();
        float[] x = new float[ids.length * h];
        int slot = 0;
        for (int i = 0; i < ids.length; i++) {
            if (types[i] == PositionIds.VISION && image != null) {
                System.arraycopy(image.visionOut(), slot * h, x, i * h, h);
                slot++;
                continue;
            }
            int id = ids[i];
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " at position " + i
                        + " is outside the vocabulary (0.." + (config.vocabSize() - 1) + ")");
            }
            embedTokens.readRow(id, x, i * h);
        }
        return x;
    }

    void prepareCross(ImageFeatures image, KvCache cache) {
        for (DecoderLayer l : layers) {
            l.prepareCross(image.crossOut(), image.crossTokens(), cache);
        }
        cache.crossLength = image.crossTokens();
    }

    void layers(float[] hidden, int n, Routing routing, int[] positions, KvCache cache, int past) {
        long t0 = System.nanoTime();
        for (DecoderLayer l : layers) {
            l.forward(hidden, n, routing, positions, rope, cache, past);
        }
        Timings.DECODER_LAYERS.addAndGet(System.nanoTime() - t0);
    }

    /** Final norm and LM head over rows {@code from..n} of {@code hidden}: logits {@code [(n - from), V]}. */
    float[] logits(float[] hidden, int n, int from) {
        int h = config.hiddenSize();
        int rows = n - from;
        float[] x = new float[rows * h];
        float[] sub = new float[rows * h];
        System.arraycopy(hidden, from * h, sub, 0, rows * h);
        k.rmsNorm(sub, rows, h, norm, config.rmsNormEps(), x);
        float[] out = new float[rows * config.vocabSize()];
        k.matmul(x, rows, lmHead, null, out);
        return out;
    }

    /** Throws a clear error when the model cannot take a text-only conversation. */
    public void requireImageIfNeeded(boolean hasImage) {
        if (!hasImage && config.family() == Family.COGAGENT) {
            throw new ModelFormatException("CogAgent needs an image: its reference cannot run text-only conversations");
        }
    }

    /** Unmaps the checkpoint. */
    @Override
    public void close() {
        checkpoint.close();
    }
}
