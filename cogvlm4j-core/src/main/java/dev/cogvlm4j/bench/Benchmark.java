package dev.cogvlm4j.bench;

import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.CogVlmModel;
import dev.cogvlm4j.model.ImageFeatures;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.model.Session;
import dev.cogvlm4j.model.Timings;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.vision.RgbImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The end-to-end benchmark: a model of real shapes with random weights and a few layers of each stack, timed
 * stage by stage, extrapolated to the real depth, and reported against the machine's own measured limits.
 */
public final class Benchmark {
    /**
     * What one run measured. Seconds and rates are for the full-depth model, extrapolated from {@code layersRun}
     * layers per stack when {@code extrapolated}.
     */
    public record Report(String shape, String quant, String visionQuant, int layersRun, boolean extrapolated,
                         int imageTokens, int promptTokens, double visionSeconds, double prefillSeconds,
                         double prefillTokensPerSecond, double textPrefillTokensPerSecond, double ttftSeconds,
                         double decodeTokensPerSecond, double decodeGbps, double gemmGflops, double fmaPeakGflops,
                         double bandwidthGbps, long peakRssBytes, long peakRssBytesExtrapolated, int threads,
                         double followupTtftSeconds) {
        /** GEMM throughput as a fraction of the FMA peak. */
        public double gemmFractionOfPeak() {
            return gemmGflops / fmaPeakGflops;
        }

        /** Decode bandwidth as a fraction of the measured triad bandwidth. */
        public double decodeFractionOfBandwidth() {
            return decodeGbps / bandwidthGbps;
        }
    }

    private Benchmark() {
    }

    /** Runs the benchmark for a named shape ({@code cogvlm-17b}, ...) or a config.json path. */
    public static Report run(String shape, DType quant, DType visionQuant, int layers, int decodeSteps,
                             Consumer<String> log) throws IOException {
        String config;
        int[] depth;
        if (Files.isRegularFile(Path.of(shape))) {
            config = cutLayers(Files.readString(Path.of(shape)), layers);
            depth = realDepthsOf(Files.readString(Path.of(shape)));
        } else {
            config = ModelShapes.realConfig(shape, layers);
            depth = ModelShapes.realDepths(shape);
        }
        log.accept("measuring the machine: FMA peak and STREAM triad bandwidth");
        double peak = MachinePeaks.fmaPeakGflops(5);
        double bw = MachinePeaks.triadBandwidthGbps(5);
        log.accept(String.format("  FMA peak %.0f GFLOP/s, bandwidth %.1f GB/s; GEMM 512x4096x4096 %s", peak, bw, quant));
        double gemm = GemmProbe.gflops(512, 4096, 4096, quant, 5);
        Path tmp = Files.createTempFile("cogvlm4j-bench", ".gguf");
        try {
            log.accept("writing a " + layers + "-layer " + shape + " model with random " + quant + " weights");
            SyntheticModel.write(config, tmp, quant, visionQuant, 7);
            System.gc();
            PeakMemory.reset();
            try (CogVlmModel model = CogVlmModel.load(tmp)) {
                return measure(model, shape, quant, visionQuant, layers, depth, decodeSteps, gemm, peak, bw, log);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static Report measure(CogVlmModel model, String shape, DType quant, DType visionQuant, int layers,
                                  int[] depth, int decodeSteps, double gemm, double peak, double bw, Consumer<String> log) {
        CogVlmConfig c = model.config();
        SplittableRandom r = new SplittableRandom(3);
        byte[] px = new byte[640 * 480 * 3];
        r.nextBytes(px);
        RgbImage image = new RgbImage(640, 480, px);
        double lmScale = (double) depth[0] / c.numLayers();
        double visScale = (double) depth[1] / c.vision().numLayers();
        double crossScale = c.cross() != null ? (double) (depth[2] - 1) / (c.cross().layers() - 1) : 1;

        log.accept("vision tower (warm-up, then timed)");
        model.encode(model.prepare(image));
        PeakMemory.reset();
        Timings.reset();
        long t0 = System.nanoTime();
        ImageFeatures f = model.encode(model.prepare(image));
        double visionRaw = (System.nanoTime() - t0) / 1e9;
        double visLayers = Timings.VISION_LAYERS.get() / 1e9;
        double crossBlocks = Timings.CROSS_BLOCKS.get() / 1e9;
        double vision = visionRaw - visLayers - crossBlocks + visLayers * visScale + crossBlocks * crossScale;
        // The towers release their pages after encoding, so the two phases peak separately.
        long visionPeak = PeakMemory.peakBytes();
        PeakMemory.reset();

        int[] text = randomIds(r, 20, c.vocabSize());
        ModelInput in = ModelInput.of(c, text, c.imageTokens());
        log.accept("image prefill of " + in.length() + " tokens (warm-up, then timed)");
        // CogAgent cannot run without an image, so its warm-up and text figures keep the image in front.
        boolean needsImage = c.family() == dev.cogvlm4j.model.Family.COGAGENT;
        Session warm = model.newSession();
        warm.prefill(ModelInput.of(c, randomIds(r, 64, c.vocabSize()), needsImage ? c.imageTokens() : 0),
                needsImage ? f : null, false);
        // Decoding takes the matrix-vector path, which must be compiled before it is timed too.
        for (int i = 0; i < 24; i++) {
            warm.next(5 + i);
        }
        Timings.reset();
        Session s = model.newSession();
        t0 = System.nanoTime();
        float[] logits = s.prefill(in, f, false);
        double prefillRaw = (System.nanoTime() - t0) / 1e9;
        double prefillLayers = Timings.DECODER_LAYERS.get() / 1e9;
        double prefill = prefillRaw - prefillLayers + prefillLayers * lmScale;

        log.accept("decoding " + decodeSteps + " tokens");
        int tok = dev.cogvlm4j.model.Sampler.argmax(logits);
        double[] step = new double[decodeSteps];
        double[] stepLayers = new double[decodeSteps];
        for (int i = 0; i < decodeSteps; i++) {
            Timings.reset();
            long a = System.nanoTime();
            logits = s.next(tok);
            step[i] = (System.nanoTime() - a) / 1e9;
            stepLayers[i] = Timings.DECODER_LAYERS.get() / 1e9;
            tok = dev.cogvlm4j.model.Sampler.argmax(logits);
        }
        // A follow-up question about the same image: its prompt shares everything up to the answer, so only the new
        // question's tokens run (the image-prefix cache's path).
        int shared = s.length();
        int[] follow = java.util.Arrays.copyOf(in.inputIds(), shared + 20);
        System.arraycopy(randomIds(r, 20, c.vocabSize()), 0, follow, shared, 20);
        int[] followTypes = java.util.Arrays.copyOf(in.tokenTypeIds(), follow.length);
        Timings.reset();
        long fu = System.nanoTime();
        s.extend(ModelInput.raw(follow, followTypes), shared, f, false);
        double followRaw = (System.nanoTime() - fu) / 1e9;
        double followLayers = Timings.DECODER_LAYERS.get() / 1e9;
        double followup = followRaw - followLayers + followLayers * lmScale;
        double stepMed = MachinePeaks.median(step);
        double layersMed = MachinePeaks.median(stepLayers);
        double perToken = stepMed - layersMed + layersMed * lmScale;
        double bytesPerToken = DecodeTraffic.bytesPerToken(model, depth[0], s.length());

        log.accept("text prefill of 512 tokens" + (needsImage ? " after the image" : ""));
        double textRaw;
        if (needsImage) {
            Session t = model.newSession();
            ModelInput head = ModelInput.of(c, randomIds(r, 1, c.vocabSize()), c.imageTokens());
            t.prefill(head, f, false);
            int[] ids = java.util.Arrays.copyOf(head.inputIds(), head.length() + 512);
            System.arraycopy(randomIds(r, 512, c.vocabSize()), 0, ids, head.length(), 512);
            ModelInput longer = ModelInput.raw(ids, java.util.Arrays.copyOf(head.tokenTypeIds(), ids.length));
            Timings.reset();
            t0 = System.nanoTime();
            t.extend(longer, head.length(), f, false);
        } else {
            Timings.reset();
            t0 = System.nanoTime();
            model.newSession().prefill(ModelInput.of(c, randomIds(r, 511, c.vocabSize()), 0), null, false);
        }
        textRaw = (System.nanoTime() - t0) / 1e9;
        double textLayers = Timings.DECODER_LAYERS.get() / 1e9;
        double textPrefill = textRaw - textLayers + textLayers * lmScale;

        long lmPeak = PeakMemory.peakBytes();
        long rss = Math.max(visionPeak, lmPeak);
        long[] missing = DecodeTraffic.missingWeightBytes(model, depth);
        long fullDepthPeak = Math.max(visionPeak + missing[1], lmPeak + missing[0]);
        return new Report(shape, quant.name().toLowerCase(java.util.Locale.ROOT),
                visionQuant.name().toLowerCase(java.util.Locale.ROOT), layers, lmScale != 1 || visScale != 1,
                c.imageTokens(), in.length(), vision, prefill, in.length() / prefill, 512 / textPrefill,
                vision + prefill, 1 / perToken, bytesPerToken / perToken / 1e9, gemm, peak, bw, rss, fullDepthPeak,
                dev.cogvlm4j.tensor.Parallel.threads(), followup);
    }

    private static int[] randomIds(SplittableRandom r, int n, int vocab) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = 3 + r.nextInt(Math.max(1, Math.min(vocab, 32000) - 3));
        }
        return ids;
    }

    private static String cutLayers(String json, int layers) throws IOException {
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) om.readTree(json);
        root.put("num_hidden_layers", Math.min(layers, root.path("num_hidden_layers").asInt(layers)));
        var v = (com.fasterxml.jackson.databind.node.ObjectNode) root.get("vision_config");
        v.put("num_hidden_layers", Math.min(layers, v.path("num_hidden_layers").asInt(layers)));
        if (root.path("architectures").toString().contains("CogAgent")) {
            var o = root.has("cross_vision_override") ? (com.fasterxml.jackson.databind.node.ObjectNode) root.get("cross_vision_override")
                    : root.putObject("cross_vision_override");
            int real = o.path("layers").asInt(24);
            o.put("layers", Math.min(real, layers + 1));
            if (!o.has("width")) {
                o.put("width", 1024).put("head_width", 64);
            }
        }
        return om.writeValueAsString(root);
    }

    private static int[] realDepthsOf(String json) throws IOException {
        var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        int cross = root.path("architectures").toString().contains("CogAgent")
                ? root.path("cross_vision_override").path("layers").asInt(24) : 0;
        return new int[]{root.path("num_hidden_layers").asInt(), root.path("vision_config").path("num_hidden_layers").asInt(), cross};
    }

    /** Pretty-prints a report for people. */
    public static String describe(Report r) {
        return String.format(java.util.Locale.ROOT, """
                %s, %s weights (%s vision), %d threads%s
                  vision tower          %8.2f s
                  image prefill         %8.2f s  (%d tokens, %.1f tok/s)
                  time to first token   %8.2f s
                  follow-up, same image %8.2f s  (image and prefix from the cache; 20 new tokens)
                  text prefill (512)    %8.1f tok/s
                  decode                %8.2f tok/s  (%.1f GB/s = %.0f%% of the %.1f GB/s triad bandwidth)
                  GEMM 512x4096x4096    %8.1f GFLOP/s (%.0f%% of the %.0f GFLOP/s FMA peak)
                  peak resident memory  %8.2f GB (%.2f GB for the full-depth model)""",
                r.shape(), r.quant(), r.visionQuant(), r.threads(),
                r.extrapolated() ? ", extrapolated from " + r.layersRun() + " layers per stack" : "",
                r.visionSeconds(), r.prefillSeconds(), r.promptTokens(), r.prefillTokensPerSecond(), r.ttftSeconds(),
                r.followupTtftSeconds(),
                r.textPrefillTokensPerSecond(), r.decodeTokensPerSecond(), r.decodeGbps(),
                100 * r.decodeFractionOfBandwidth(), r.bandwidthGbps(), r.gemmGflops(), 100 * r.gemmFractionOfPeak(),
                r.fmaPeakGflops(), r.peakRssBytes() / 1e9, r.peakRssBytesExtrapolated() / 1e9);
    }
}
