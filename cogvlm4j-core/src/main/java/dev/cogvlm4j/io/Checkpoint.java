package dev.cogvlm4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A model's weights, memory-mapped: a HuggingFace folder ({@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json}, beside {@code config.json}) or one GGUF file made by {@code quantize}
 * (weights, configuration and tokenizer together). Tensors are views into the mappings; nothing is copied.
 */
public final class Checkpoint implements AutoCloseable {
    /** Metadata key holding config.json in a GGUF file. */
    public static final String GGUF_CONFIG = "cogvlm4j.config_json";
    /** Metadata key prefix for files carried in a GGUF file (tokenizer.json, tokenizer.model, ...). */
    public static final String GGUF_FILE = "cogvlm4j.file.";

    /**
     * One parameter.
     *
     * @param name  checkpoint name
     * @param dtype storage type
     * @param shape PyTorch-order shape
     * @param bytes its bytes in the mapping
     * @param file  the file it lives in (for messages)
     */
    public record Entry(String name, DType dtype, long[] shape, MemorySegment bytes, String file) {
        /** Number of elements. */
        public long elements() {
            return dev.cogvlm4j.tensor.Shapes.elements(shape);
        }
    }

    private final Path path;
    private final Map<String, Entry> entries;
    private final List<AutoCloseable> mappings;
    private final String configJson;
    private final Map<String, byte[]> files;

    private Checkpoint(Path path, Map<String, Entry> entries, List<AutoCloseable> mappings, String configJson,
                       Map<String, byte[]> files) {
        this.path = path;
        this.entries = Collections.unmodifiableMap(entries);
        this.mappings = mappings;
        this.configJson = configJson;
        this.files = files;
    }

    /** True for tensors that are buffers rather than parameters, which the engine recomputes. */
    static boolean isBuffer(String name) {
        return name.endsWith("rotary_emb.inv_freq");
    }

    /** Maps a model folder or a GGUF file. */
    public static Checkpoint open(Path path) {
        if (Files.isDirectory(path)) {
            return openFolder(path);
        }
        if (Files.isRegularFile(path)) {
            if (!GgufFile.isGguf(path)) {
                throw new ModelFormatException(path.getFileName() + ": not a model folder or a GGUF file");
            }
            return openGguf(path);
        }
        throw new ModelFormatException(path + ": no such model folder or file");
    }

    private static Checkpoint openGguf(Path path) {
        GgufFile g = GgufFile.open(path);
        try {
            String config = g.string(GGUF_CONFIG);
            if (config == null) {
                throw new ModelFormatException(path.getFileName() + ": GGUF file has no " + GGUF_CONFIG
                        + " (not made by cogvlm4j quantize?)");
            }
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (GgufFile.Entry e : g.entries().values()) {
                entries.put(e.name(), new Entry(e.name(), e.dtype(), e.shape(), g.bytes(e), path.getFileName().toString()));
            }
            Map<String, byte[]> files = new LinkedHashMap<>();
            g.metadata().forEach((k, v) -> {
                if (k.startsWith(GGUF_FILE) && v instanceof byte[] b) {
                    files.put(k.substring(GGUF_FILE.length()), b);
                }
            });
            return new Checkpoint(path, entries, List.of(g), config, files);
        } catch (RuntimeException e) {
            g.close();
            throw e;
        }
    }

    private static Checkpoint openFolder(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        List<Path> paths = new ArrayList<>();
        if (Files.isRegularFile(index)) {
            paths.addAll(shards(dir, index));
        } else if (Files.isRegularFile(single)) {
            paths.add(single);
        } else {
            boolean bin = Files.isRegularFile(dir.resolve("pytorch_model.bin"))
                    || Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json"));
            throw new ModelFormatException(dir + ": no model.safetensors or model.safetensors.index.json"
                    + (bin ? " (pytorch_model.bin pickles are not loaded; convert them to safetensors)" : ""));
        }
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelFormatException(dir + ": no config.json");
        }
        String config;
        try {
            config = Files.readString(configFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelFormatException("config.json: cannot read: " + e.getMessage());
        }
        List<AutoCloseable> mappings = new ArrayList<>();
        Map<String, Entry> entries = new LinkedHashMap<>();
        try {
            for (Path p : paths) {
                SafeTensorsFile f = SafeTensorsFile.open(p);
                mappings.add(f);
                for (SafeTensorsFile.Entry e : f.entries().values()) {
                    if (isBuffer(e.name())) {
                        continue;
                    }
                    Entry prev = entries.putIfAbsent(e.name(), new Entry(e.name(), e.dtype(), e.shape(),
                            f.bytes(e.name()), p.getFileName().toString()));
                    if (prev != null) {
                        throw new ModelFormatException(dir + ": tensor '" + e.name() + "' appears in both "
                                + prev.file() + " and " + p.getFileName());
                    }
                }
            }
        } catch (RuntimeException e) {
            closeAll(mappings);
            throw e;
        }
        return new Checkpoint(dir, entries, mappings, config, Map.of());
    }

    private static List<Path> shards(Path dir, Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(index.getFileName() + ": not valid JSON: " + e.getMessage());
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ModelFormatException(index.getFileName() + ": no weight_map object");
        }
        Set<Path> out = new LinkedHashSet<>();
        for (JsonNode v : map) {
            String s = v.asText();
            Path p = dir.resolve(s).normalize();
            if (!p.startsWith(dir.normalize()) || s.contains("/") || s.contains("\\")) {
                throw new ModelFormatException(index.getFileName() + ": shard name '" + s + "' leaves the model folder");
            }
            if (!Files.isRegularFile(p)) {
                throw new ModelFormatException(index.getFileName() + ": shard " + s + " is missing");
            }
            out.add(p);
        }
        if (out.isEmpty()) {
            throw new ModelFormatException(index.getFileName() + ": weight_map lists no shards");
        }
        return new ArrayList<>(out);
    }

    /** The model folder or GGUF file. */
    public Path path() {
        return path;
    }

    /** The folder holding the model (the GGUF file's folder for a single file). */
    public Path dir() {
        return Files.isDirectory(path) ? path : path.toAbsolutePath().getParent();
    }

    /** True when loaded from a GGUF file. */
    public boolean isGguf() {
        return !Files.isDirectory(path);
    }

    /** The text of config.json. */
    public String configJson() {
        return configJson;
    }

    /** A file carried inside the checkpoint (GGUF only), such as {@code tokenizer.json}. */
    public Optional<byte[]> file(String name) {
        return Optional.ofNullable(files.get(name));
    }

    /** Names of all parameters (buffers excluded). */
    public Set<String> names() {
        return entries.keySet();
    }

    /** All parameters in file order. */
    public Iterable<Entry> entries() {
        return entries.values();
    }

    /** True when the checkpoint holds a parameter of this name. */
    public boolean has(String name) {
        return entries.containsKey(name);
    }

    /** Total bytes of parameter data. */
    public long parameterBytes() {
        long total = 0;
        for (Entry e : entries.values()) {
            total += e.bytes().byteSize();
        }
        return total;
    }

    /** Storage description of a parameter. */
    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFormatException(path.getFileName() + ": missing tensor '" + name + "'");
        }
        return e;
    }

    /** A parameter checked against the shape the configuration implies. */
    public Tensor tensor(String name, long... expectedShape) {
        Entry e = entry(name);
        if (!Arrays.equals(e.shape(), expectedShape)) {
            throw new ModelFormatException(e.file() + ": tensor '" + name + "' has shape " + Arrays.toString(e.shape())
                    + " but config.json implies " + Arrays.toString(expectedShape));
        }
        if (!e.dtype().isWeightType()) {
            throw new ModelFormatException(e.file() + ": tensor '" + name + "' is " + e.dtype()
                    + "; weights must be F32, F16, BF16, Q8_0 or Q4_0");
        }
        return Tensor.of(name, e.dtype(), e.shape(), e.bytes());
    }

    /** A parameter without a shape check (for converters that copy every tensor). */
    public Tensor tensor(String name) {
        Entry e = entry(name);
        return tensor(name, e.shape());
    }

    /** A small parameter (norm, bias, embedding row block) copied to floats after the same shape check. */
    public float[] floats(String name, long... expectedShape) {
        return tensor(name, expectedShape).toFloatArray();
    }

    @Override
    public void close() {
        closeAll(mappings);
    }

    private static void closeAll(List<AutoCloseable> list) {
        for (AutoCloseable c : list) {
            try {
                c.close();
            } catch (Exception ignored) {
                // Unmapping cannot fail in a way the caller could act on.
            }
        }
    }
}
