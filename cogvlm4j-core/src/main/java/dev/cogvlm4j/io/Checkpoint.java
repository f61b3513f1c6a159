package dev.cogvlm4j.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a HuggingFace model folder: {@code model.safetensors}, or the shards listed by
 * {@code model.safetensors.index.json}. Every shard stays memory-mapped; tensors are views into the mappings.
 */
public final class Checkpoint implements AutoCloseable {
    private final Path dir;
    private final List<SafeTensorsFile> files;
    private final Map<String, SafeTensorsFile> owner;

    private Checkpoint(Path dir, List<SafeTensorsFile> files, Map<String, SafeTensorsFile> owner) {
        this.dir = dir;
        this.files = files;
        this.owner = owner;
    }

    /** True for tensors that are buffers rather than parameters, which the engine recomputes. */
    static boolean isBuffer(String name) {
        return name.endsWith("rotary_emb.inv_freq");
    }

    /** Maps every weight file of a model folder. */
    public static Checkpoint open(Path dir) {
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
        List<SafeTensorsFile> files = new ArrayList<>();
        Map<String, SafeTensorsFile> owner = new LinkedHashMap<>();
        try {
            for (Path p : paths) {
                SafeTensorsFile f = SafeTensorsFile.open(p);
                files.add(f);
                for (String name : f.entries().keySet()) {
                    if (isBuffer(name)) {
                        continue;
                    }
                    SafeTensorsFile prev = owner.putIfAbsent(name, f);
                    if (prev != null) {
                        throw new ModelFormatException(dir + ": tensor '" + name + "' appears in both "
                                + prev.path().getFileName() + " and " + p.getFileName());
                    }
                }
            }
        } catch (RuntimeException e) {
            files.forEach(SafeTensorsFile::close);
            throw e;
        }
        return new Checkpoint(dir, files, owner);
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

    /** The model folder. */
    public Path dir() {
        return dir;
    }

    /** Names of all parameters (buffers excluded). */
    public Set<String> names() {
        return Collections.unmodifiableSet(owner.keySet());
    }

    /** True when the checkpoint holds a parameter of this name. */
    public boolean has(String name) {
        return owner.containsKey(name);
    }

    /** Total bytes of parameter data across shards. */
    public long parameterBytes() {
        long total = 0;
        for (var e : owner.entrySet()) {
            var entry = e.getValue().entries().get(e.getKey());
            total += entry.end() - entry.start();
        }
        return total;
    }

    /** Shape of a parameter as stored. */
    public long[] shapeOf(String name) {
        return entry(name).shape();
    }

    /** Storage description of a parameter. */
    public SafeTensorsFile.Entry entry(String name) {
        SafeTensorsFile f = owner.get(name);
        if (f == null) {
            throw new ModelFormatException(dir.getFileName() + ": missing tensor '" + name + "'");
        }
        return f.entries().get(name);
    }

    /** A parameter checked against the shape the configuration implies. */
    public Tensor tensor(String name, long... expectedShape) {
        SafeTensorsFile.Entry e = entry(name);
        if (!Arrays.equals(e.shape(), expectedShape)) {
            throw new ModelFormatException(owner.get(name).path().getFileName() + ": tensor '" + name + "' has shape "
                    + Arrays.toString(e.shape()) + " but config.json implies " + Arrays.toString(expectedShape));
        }
        if (!e.dtype().isWeightType()) {
            throw new ModelFormatException(owner.get(name).path().getFileName() + ": tensor '" + name + "' is "
                    + e.dtype() + "; weights must be F32, F16 or BF16");
        }
        return owner.get(name).tensor(name);
    }

    /** A small parameter (norm, bias, embedding row block) copied to floats after the same shape check. */
    public float[] floats(String name, long... expectedShape) {
        return tensor(name, expectedShape).toFloatArray();
    }

    @Override
    public void close() {
        files.forEach(SafeTensorsFile::close);
    }
}
