package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.bench.Benchmark;
import dev.cogvlm4j.tensor.DType;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Measures vision, prefill and decode speed on real shapes with random weights, against the machine's limits. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Benchmark vision, prefill and decode speed on real model shapes.",
                "Random weights; a few layers of each stack are run and the timings extrapolated to the full depth",
                "(and labelled so). Rates are reported against the FMA peak and STREAM bandwidth measured here."})
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--shape", defaultValue = "cogvlm-17b", paramLabel = "SHAPE",
            description = "cogvlm-17b, cogagent-18b, cogvlm2-19b, or a config.json path (default: ${DEFAULT-VALUE}).")
    String shape;

    @Option(names = "--quant", defaultValue = "q4_0", paramLabel = "T",
            description = "Language-model weight type: q4_0, q8_0, bf16, f16, f32 (default: ${DEFAULT-VALUE}).")
    String quant;

    @Option(names = "--vision-quant", defaultValue = "bf16", paramLabel = "T",
            description = "Vision-tower weight type (default: ${DEFAULT-VALUE}).")
    String visionQuant;

    @Option(names = "--layers", defaultValue = "2", paramLabel = "N", description = "Layers of each stack to run (default: ${DEFAULT-VALUE}).")
    int layers;

    @Option(names = "--decode-steps", defaultValue = "16", paramLabel = "N", description = "Tokens to decode (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (layers < 1 || layers > 64 || decodeSteps < 1) {
            throw new Main.UserException("--layers must be 1..64 and --decode-steps positive");
        }
        DType q = QuantizeCommand.parseType(quant);
        DType vq = QuantizeCommand.parseType(visionQuant);
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter out = spec.commandLine().getOut();
        Benchmark.Report r;
        try {
            r = Benchmark.run(shape, q, vq, layers, decodeSteps, msg -> {
                err.println(msg);
                err.flush();
            });
        } catch (IllegalArgumentException e) {
            throw new Main.UserException(e.getMessage());
        }
        if (json) {
            ObjectMapper om = new ObjectMapper();
            ObjectNode o = om.createObjectNode();
            o.put("shape", r.shape());
            o.put("quant", r.quant());
            o.put("vision_quant", r.visionQuant());
            o.put("threads", r.threads());
            o.put("image_tokens", r.imageTokens());
            o.put("prompt_tokens", r.promptTokens());
            o.put("vision_seconds", r.visionSeconds());
            o.put("prefill_seconds", r.prefillSeconds());
            o.put("prefill_tokens_per_second", r.prefillTokensPerSecond());
            o.put("text_prefill_tokens_per_second", r.textPrefillTokensPerSecond());
            o.put("ttft_seconds", r.ttftSeconds());
            o.put("followup_ttft_seconds", r.followupTtftSeconds());
            o.put("decode_tokens_per_second", r.decodeTokensPerSecond());
            o.put("decode_gbps", r.decodeGbps());
            o.put("bandwidth_gbps", r.bandwidthGbps());
            o.put("decode_fraction_of_bandwidth", r.decodeFractionOfBandwidth());
            o.put("gemm_gflops", r.gemmGflops());
            o.put("fma_peak_gflops", r.fmaPeakGflops());
            o.put("gemm_fraction_of_peak", r.gemmFractionOfPeak());
            o.put("peak_rss_bytes", r.peakRssBytes());
            o.put("peak_rss_bytes_full_depth", r.peakRssBytesExtrapolated());
            o.put("layers_run", r.layersRun());
            o.put("extrapolated", r.extrapolated());
            out.println(om.writeValueAsString(o));
        } else {
            out.println(Benchmark.describe(r));
        }
        out.flush();
        return 0;
    }
}
