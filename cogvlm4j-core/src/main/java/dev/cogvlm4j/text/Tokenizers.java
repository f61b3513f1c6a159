package dev.cogvlm4j.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.io.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Finds and loads a tokenizer from a model folder, a tokenizer folder or a tokenizer file. */
public final class Tokenizers {
    /** The word that selects {@link ByteTokenizer} instead of a path. */
    public static final String BYTES = "bytes";

    private Tokenizers() {
    }

    /** True when a folder holds a tokenizer this class can load. */
    public static boolean present(Path dir) {
        return Files.isRegularFile(dir.resolve("tokenizer.model")) || Files.isRegularFile(dir.resolve("tokenizer.json"));
    }

    /**
     * Loads {@code tokenizer.model} (Llama-2) or {@code tokenizer.json} (Llama-2 or Llama-3 layout) from a folder,
     * or the named file; settings from a {@code tokenizer_config.json} beside it.
     */
    public static Tokenizer load(Path path) {
        if (path.toString().equals(BYTES)) {
            return new ByteTokenizer();
        }
        Path dir;
        String main;
        if (Files.isDirectory(path)) {
            dir = path;
            if (Files.isRegularFile(path.resolve("tokenizer.model"))) {
                main = "tokenizer.model";
            } else if (Files.isRegularFile(path.resolve("tokenizer.json"))) {
                main = "tokenizer.json";
            } else {
                throw new ModelFormatException(path + ": no tokenizer.model or tokenizer.json");
            }
        } else if (Files.isRegularFile(path)) {
            main = path.getFileName().toString();
            dir = path.toAbsolutePath().getParent();
        } else {
            throw new ModelFormatException(path + ": no such tokenizer file or folder");
        }
        Path mainFile = dir.resolve(main);
        return build(main, name -> {
            Path p = name.equals(main) ? mainFile : dir.resolve(name);
            if (!Files.isRegularFile(p)) {
                return null;
            }
            try {
                return Files.readAllBytes(p);
            } catch (IOException e) {
                throw new ModelFormatException(name + ": cannot read: " + e.getMessage());
            }
        });
    }

    /**
     * Loads a tokenizer from files held in memory (a GGUF file carries them): {@code tokenizer.model} or
     * {@code tokenizer.json}, with {@code tokenizer_config.json}; null when there is none.
     */
    public static Tokenizer fromFiles(java.util.function.Function<String, byte[]> files) {
        if (files.apply("tokenizer.model") != null) {
            return build("tokenizer.model", files);
        }
        if (files.apply("tokenizer.json") != null) {
            return build("tokenizer.json", files);
        }
        return null;
    }

    private static Tokenizer build(String main, java.util.function.Function<String, byte[]> files) {
        byte[] cfg = files.apply("tokenizer_config.json");
        JsonNode config = cfg == null ? null : parseJson(cfg, "tokenizer_config.json");
        boolean legacy = config != null && config.path("legacy").asBoolean(false);
        byte[] data = files.apply(main);
        if (main.endsWith(".model")) {
            return SentencePieceTokenizer.fromModelProto(data, main, legacy);
        }
        return fromJson(parseJson(data, main), main, config, legacy);
    }

    private static Tokenizer fromJson(JsonNode root, String name, JsonNode config, boolean legacy) {
        JsonNode model = root.get("model");
        if (model == null || !"BPE".equals(model.path("type").asText())) {
            throw new ModelFormatException(name + ": only BPE tokenizers (Llama-2, Llama-3) are supported");
        }
        Map<String, Integer> vocab = new HashMap<>();
        JsonNode v = model.get("vocab");
        if (v == null || !v.isObject()) {
            throw new ModelFormatException(name + ": model.vocab is missing");
        }
        v.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        List<String[]> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            if (m.isArray() && m.size() == 2) {
                merges.add(new String[]{m.get(0).asText(), m.get(1).asText()});
            } else {
                String s = m.asText();
                int sp = s.indexOf(' ', 1);
                if (sp < 0) {
                    throw new ModelFormatException(name + ": malformed merge '" + s + "'");
                }
                merges.add(new String[]{s.substring(0, sp), s.substring(sp + 1)});
            }
        }
        Map<String, Integer> added = new LinkedHashMap<>();
        Map<String, Boolean> addedSpecial = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            added.put(a.path("content").asText(), a.path("id").asInt());
            addedSpecial.put(a.path("content").asText(), a.path("special").asBoolean(true));
        }
        boolean byteLevel = root.path("pre_tokenizer").toString().contains("ByteLevel")
                || root.path("decoder").path("type").asText().equals("ByteLevel");
        if (byteLevel) {
            boolean cleanUp = config == null || config.path("clean_up_tokenization_spaces").asBoolean(true);
            return new ByteLevelBpeTokenizer(vocab, merges, added, addedSpecial,
                    model.path("ignore_merges").asBoolean(false), cleanUp, name);
        }
        if (!model.path("byte_fallback").asBoolean(false)) {
            throw new ModelFormatException(name + ": a SentencePiece-style tokenizer.json needs byte_fallback (Llama-2 layout)");
        }
        return SentencePieceTokenizer.fromTokenizerJson(vocab, merges, added, name, legacy);
    }

    private static JsonNode parseJson(byte[] data, String name) {
        try {
            JsonNode n = new ObjectMapper().readTree(data);
            if (n == null || !n.isObject()) {
                throw new ModelFormatException(name + ": not a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new ModelFormatException(name + ": not valid JSON: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }
}
