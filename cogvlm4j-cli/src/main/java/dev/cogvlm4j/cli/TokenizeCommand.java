package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.text.Tokenizers;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** Contract command: encode each line's text as the reference encodes prompts (no special tokens added). */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Encode the \"text\" of each JSONL line and write {\"ids\": [...]} per line, in order.")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--tokenizer", required = true, paramLabel = "PATH", description = "Tokenizer folder or file.")
    Path tokenizer;

    @Option(names = "--input", required = true, paramLabel = "IN.jsonl", description = "Lines of {\"text\": ...}.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.jsonl", description = "Lines of {\"ids\": [...]}.")
    Path output;

    @Override
    public Integer call() throws Exception {
        Tokenizer tok = Tokenizers.load(tokenizer);
        ObjectMapper om = new ObjectMapper();
        int lineNo = 0;
        try (BufferedReader in = Files.newBufferedReader(input, StandardCharsets.UTF_8);
             BufferedWriter out = Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n;
                try {
                    n = om.readTree(line);
                } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                    throw new Main.UserException(input.getFileName() + " line " + lineNo + ": not valid JSON");
                }
                if (n == null || !n.has("text") || !n.get("text").isTextual()) {
                    throw new Main.UserException(input.getFileName() + " line " + lineNo + ": no \"text\" string");
                }
                ObjectNode o = om.createObjectNode();
                var ids = o.putArray("ids");
                for (int id : tok.encode(n.get("text").asText())) {
                    ids.add(id);
                }
                out.write(om.writeValueAsString(o));
                out.write('\n');
            }
        }
        return 0;
    }
}
