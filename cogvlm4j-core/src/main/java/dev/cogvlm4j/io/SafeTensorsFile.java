package dev.cogvlm4j.io;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One {@code .safetensors} file, memory-mapped through {@code java.lang.foreign} and validated before any tensor is
 * handed out: the header must be a sane size and valid JSON, every tensor's byte range must lie inside the file,
 * match {@code dtype × shape}, and overlap no other.
 */
public final class SafeTensorsFile implements AutoCloseable {
    /** Headers above this size are refused (real checkpoints have headers of a few hundred kilobytes). */
    static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** Location and type of one tensor inside the file. */
    public record Entry(String name, DType dtype, long[] shape, long start, long end) {
        /** Number of elements. */
        public long elements() {
            return dev.cogvlm4j.tensor.Shapes.elements(shape);
        }
    }

    private final Path path;
    private final MemorySegment file;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensorsFile(Path path, MemorySegment file, long dataStart, Map<String, Entry> entries,
                            Map<String, String> metadata) {
        this.path = path;
        this.file = file;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    /** Maps and validates a file; every fault is a {@link ModelFormatException} naming the file. */
    public static SafeTensorsFile open(Path path) {
        String fname = path.getFileName().toString();
        // An automatic arena: the mapping lives until the last tensor view is unreachable. Views into a shared
        // arena pay a liveness check on every access that the JIT cannot always hoist out of a kernel's loop.
        Arena arena = Arena.ofAuto();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new ModelFormatException(fname + ": file has " + size + " bytes, too short for a safetensors header");
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long headerLen = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES) {
                throw new ModelFormatException(fname + ": header length " + Long.toUnsignedString(headerLen)
                        + " is not plausible (expected 2.." + MAX_HEADER_BYTES + " bytes)");
            }
            if (headerLen > size - 8) {
                throw new ModelFormatException(fname + ": header length " + headerLen + " runs past the end of the "
                        + size + "-byte file (truncated?)");
            }
            byte[] header = seg.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
            long dataStart = 8 + headerLen;
            SafeTensorsFile f = parse(fname, path, seg, header, dataStart, size - dataStart);
            return f;
        } catch (IOException e) {
            throw new ModelFormatException(fname + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw e;
        }
    }

    private static SafeTensorsFile parse(String fname, Path path, MemorySegment seg, byte[] header,
                                         long dataStart, long dataSize) {
        JsonNode root;
        try {
            root = JSON.readTree(new String(header, StandardCharsets.UTF_8));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ModelFormatException(fname + ": header is not valid JSON: "
                    + e.getOriginalMessage().lines().findFirst().orElse(""));
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(fname + ": header is not a JSON object");
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new ModelFormatException(fname + ": __metadata__ is not an object");
                }
                v.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                continue;
            }
            entries.put(name, entry(fname, name, v, dataSize));
        }
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::start).thenComparingLong(Entry::end));
        for (int i = 1; i < sorted.size(); i++) {
            Entry a = sorted.get(i - 1);
            Entry b = sorted.get(i);
            if (b.start() < a.end() && b.end() > b.start()) {
                throw new ModelFormatException(fname + ": tensor '" + b.name() + "' (bytes " + b.start() + ".."
                        + b.end() + ") overlaps tensor '" + a.name() + "' (bytes " + a.start() + ".." + a.end() + ")");
            }
        }
        return new SafeTensorsFile(path, seg, dataStart, Collections.unmodifiableMap(entries),
                Collections.unmodifiableMap(metadata));
    }

    private static Entry entry(String fname, String name, JsonNode v, long dataSize) {
        String where = fname + ": tensor '" + name + "'";
        if (!v.isObject()) {
            throw new ModelFormatException(where + " is not described by an object");
        }
        JsonNode dt = v.get("dtype");
        JsonNode sh = v.get("shape");
        JsonNode off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) {
            throw new ModelFormatException(where + " has no dtype");
        }
        DType dtype = DType.fromSafetensors(dt.asText());
        if (dtype == null) {
            throw new ModelFormatException(where + " has unknown dtype '" + dt.asText() + "'");
        }
        if (sh == null || !sh.isArray()) {
            throw new ModelFormatException(where + " has no shape");
        }
        long[] shape = new long[sh.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new ModelFormatException(where + " has an invalid shape " + sh);
            }
            shape[i] = d.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException ex) {
                throw new ModelFormatException(where + " has a shape " + sh + " too large to address");
            }
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber()
                || !off.get(1).isIntegralNumber() || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong()) {
            throw new ModelFormatException(where + " has no valid data_offsets [start, end]");
        }
        long start = off.get(0).asLong();
        long end = off.get(1).asLong();
        if (start < 0 || end < start) {
            throw new ModelFormatException(where + " has data_offsets [" + start + ", " + end + "] out of order");
        }
        if (end > dataSize) {
            throw new ModelFormatException(where + " ends at byte " + end + " but the file has " + dataSize
                    + " bytes of tensor data (truncated?)");
        }
        long expected;
        try {
            expected = Math.multiplyExact(elements, dtype.bytes());
        } catch (ArithmeticException ex) {
            throw new ModelFormatException(where + " has a shape " + sh + " too large to address");
        }
        if (end - start != expected) {
            throw new ModelFormatException(where + " holds " + (end - start) + " bytes but " + dtype + " "
                    + Arrays.toString(shape) + " needs " + expected);
        }
        return new Entry(name, dtype, shape, start, end);
    }

    /** The file this was mapped from. */
    public Path path() {
        return path;
    }

    /** Tensor descriptions in header order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    /** The optional {@code __metadata__} string map. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The raw bytes of one tensor, as a slice of the mapping (no copy). */
    public MemorySegment bytes(String name) {
        Entry e = require(name);
        return file.asSlice(dataStart + e.start(), e.end() - e.start());
    }

    /** A weight tensor read in place. */
    public Tensor tensor(String name) {
        Entry e = require(name);
        return Tensor.of(name, e.dtype(), e.shape(), bytes(name));
    }

    /** Any float tensor copied to a float array (reference outputs, small parameters). */
    public float[] floats(String name) {
        Entry e = require(name);
        MemorySegment b = bytes(name);
        int n = Math.toIntExact(e.elements());
        float[] out = new float[n];
        switch (e.dtype()) {
            case F32, F16, BF16 -> Tensor.of(name, e.dtype(), e.shape(), b).read(0, out, 0, n);
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
                }
            }
            default -> throw new ModelFormatException(path.getFileName() + ": tensor '" + name + "' is "
                    + e.dtype() + ", not a float type");
        }
        return out;
    }

    /** An integer tensor (I64, I32, I16, I8, U8, BOOL) widened to longs. */
    public long[] longs(String name) {
        Entry e = require(name);
        MemorySegment b = bytes(name);
        int n = Math.toIntExact(e.elements());
        long[] out = new long[n];
        ByteOrder le = ByteOrder.LITTLE_ENDIAN;
        for (int i = 0; i < n; i++) {
            out[i] = switch (e.dtype()) {
                case I64 -> b.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(le), i);
                case I32 -> b.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), i);
                case I16 -> b.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), i);
                case I8 -> b.get(ValueLayout.JAVA_BYTE, i);
                case U8, BOOL -> b.get(ValueLayout.JAVA_BYTE, i) & 0xff;
                default -> throw new ModelFormatException(path.getFileName() + ": tensor '" + name + "' is "
                        + e.dtype() + ", not an integer type");
            };
        }
        return out;
    }

    private Entry require(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new ModelFormatException(path.getFileName() + ": no tensor '" + name + "'");
        }
        return e;
    }

    /** Releases the file; the mapping goes once no tensor view of it is reachable. */
    @Override
    public void close() {
        // Nothing to do eagerly: see open().
    }
}
