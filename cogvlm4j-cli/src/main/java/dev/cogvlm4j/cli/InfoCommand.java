package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.io.Checkpoint;
import dev.cogvlm4j.model.CogVlmConfig;
import java.io.PrintWriter;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** What a model folder holds: family, geometry, parameter count, dtypes, template, tokenizer. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Describe a model folder.")
final class InfoCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Option(names = "--json", description = "Print one JSON object.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (CogVlm vlm = model.load()) {
            CogVlmConfig c = vlm.config();
            Checkpoint ck = vlm.model().checkpoint();
            long params = 0;
            Map<String, Long> dtypes = new TreeMap<>();
            Map<String, Long> groups = new TreeMap<>();
            for (Checkpoint.Entry e : ck.entries()) {
                String name = e.name();
                params += e.elements();
                dtypes.merge(e.dtype().name(), e.elements(), Long::sum);
                groups.merge(group(name), e.elements(), Long::sum);
            }
            ObjectMapper om = new ObjectMapper();
            ObjectNode o = om.createObjectNode();
            o.put("model", vlm.model().checkpoint().path().toString());
            o.put("family", c.family().displayName());
            o.put("template_version", c.templateVersion());
            o.put("parameters", params);
            o.put("parameter_bytes", ck.parameterBytes());
            ObjectNode dt = o.putObject("dtypes");
            dtypes.forEach(dt::put);
            ObjectNode gr = o.putObject("parameters_by_part");
            groups.forEach(gr::put);
            ObjectNode lm = o.putObject("language_model");
            lm.put("vocab_size", c.vocabSize());
            lm.put("hidden_size", c.hiddenSize());
            lm.put("intermediate_size", c.intermediateSize());
            lm.put("layers", c.numLayers());
            lm.put("heads", c.numHeads());
            lm.put("kv_heads", c.numKvHeads());
            lm.put("rope_theta", c.ropeTheta());
            lm.put("max_positions", c.maxPositions());
            lm.put("bos_token_id", c.bosId());
            var eos = lm.putArray("eos_token_ids");
            for (int e : c.eosIds()) {
                eos.add(e);
            }
            ObjectNode vis = o.putObject("vision");
            vis.put("image_size", c.vision().imageSize());
            vis.put("patch_size", c.vision().patchSize());
            vis.put("hidden_size", c.vision().hiddenSize());
            vis.put("layers", c.vision().numLayers());
            vis.put("heads", c.vision().numHeads());
            vis.put("intermediate_size", c.vision().intermediateSize());
            vis.put("image_tokens", c.imageTokens());
            if (c.cross() != null) {
                ObjectNode cr = o.putObject("cross_vision");
                cr.put("image_size", c.cross().imageSize());
                cr.put("width", c.cross().width());
                cr.put("layers", c.cross().layers());
                cr.put("layers_run", c.cross().layers() - 1);
                cr.put("head_width", c.cross().headWidth());
                cr.put("tokens", c.cross().grid() * c.cross().grid());
            }
            o.put("tokenizer", vlm.tokenizer().map(t -> t.describe()).orElse(null));
            if (json) {
                out.println(om.writeValueAsString(o));
            } else {
                out.println(om.writerWithDefaultPrettyPrinter().writeValueAsString(o));
            }
            out.flush();
        }
        return 0;
    }

    private static String group(String name) {
        if (name.startsWith("model.cross_vision.")) {
            return "cross_vision";
        }
        if (name.startsWith("model.vision.")) {
            return "vision";
        }
        if (name.contains(".vision_expert_") || name.contains(".vision_mlp.")) {
            return "visual_experts";
        }
        if (name.contains(".cross_attn.") || name.contains("post_cross_attention")) {
            return "cross_attention";
        }
        return "language_model";
    }
}
