package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Contract command: generate for one request, or for each line of a JSONL file with the model loaded once. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate for a request file (raw ids or text).",
                "With --json prints {\"ids\": [...], \"text\": ...} per request; text is null without a tokenizer."})
final class GenerateCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    SamplingOptions sampling;

    static final class Source {
        @Option(names = "--request", paramLabel = "REQ.json", description = "One request.")
        Path request;

        @Option(names = "--requests", paramLabel = "REQS.jsonl", description = "One request per line; one output line each, in order.")
        Path requests;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--json", description = "Print JSON instead of streaming text.")
    boolean json;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    private final ObjectMapper om = new ObjectMapper();

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        try (CogVlm vlm = model.load()) {
            List<Path> bases = List.of(vlm.model().checkpoint().dir());
            if (source.request != null) {
                JsonNode r = Requests.readFile(source.request);
                List<Path> b = List.of(source.request.toAbsolutePath().getParent(), vlm.model().checkpoint().dir());
                emit(vlm, r, source.request.getFileName().toString(), b, out);
                return 0;
            }
            int failures = 0;
            int lineNo = 0;
            List<Path> b = List.of(source.requests.toAbsolutePath().getParent(), bases.get(0));
            try (BufferedReader in = Files.newBufferedReader(source.requests, StandardCharsets.UTF_8)) {
                for (String line; (line = in.readLine()) != null; ) {
                    lineNo++;
                    if (line.isBlank()) {
                        continue;
                    }
                    String where = source.requests.getFileName() + " line " + lineNo;
                    try {
                        emit(vlm, Requests.parse(line, where), where, b, out);
                    } catch (RuntimeException e) {
                        if (!Main.isUserError(e)) {
                            throw e;
                        }
                        failures++;
                        ObjectNode o = om.createObjectNode();
                        o.put("error", Main.oneLine(e));
                        out.println(om.writeValueAsString(o));
                        out.flush();
                        spec.commandLine().getErr().println("error: " + Main.oneLine(e));
                    }
                }
            }
            return failures == 0 ? 0 : Main.BAD_INPUT;
        }
    }

    private void emit(CogVlm vlm, JsonNode r, String where, List<Path> bases, PrintWriter out) throws IOException {
        Requests.Parsed p = Requests.resolve(vlm, r, where, bases);
        Answer a = vlm.generate(p.input(), p.image(), sampling.options(), json ? null : piece -> {
            out.print(piece);
            out.flush();
        });
        if (json) {
            ObjectNode o = om.createObjectNode();
            var ids = o.putArray("ids");
            for (int id : a.ids()) {
                ids.add(id);
            }
            if (a.text() != null) {
                o.put("text", a.text());
            } else {
                o.putNull("text");
            }
            out.println(om.writeValueAsString(o));
        } else if (a.text() == null) {
            out.println(java.util.Arrays.toString(a.ids()));
        } else {
            out.println();
        }
        out.flush();
    }
}
