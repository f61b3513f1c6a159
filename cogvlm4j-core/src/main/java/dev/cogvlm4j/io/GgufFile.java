package dev.cogvlm4j.io;

import dev.cogvlm4j.tensor.DType;
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
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (version 2 or 3), memory-mapped and validated: every length, count and offset is checked against
 * the file before it is used, so a hostile header gives a one-line error rather than a huge allocation or a read
 * past the end. Dimensions are stored innermost first (ggml's {@code ne}); {@link Entry#shape()} gives them in
 * PyTorch order.
 */
public final class GgufFile implements AutoCloseable {
    static final int MAGIC = 0x46554747;
    static final int DEFAULT_ALIGNMENT = 32;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** No real model has more; anything above is a corrupt count. */
    private static final long MAX_ITEMS = 1 << 24;

    /** ggml type ids of the types cogvlm4j reads and writes. */
    static int ggmlType(DType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q8_0 -> 8;
            case BF16 -> 30;
            default -> throw new IllegalArgumentException("no GGUF type for " + t);
        };
    }

    static DType fromGgml(int id) {
        return switch (id) {
            case 0 -> DType.F32;
            case 1 -> DType.F16;
            case 2 -> DType.Q4_0;
            case 8 -> DType.Q8_0;
            case 30 -> DType.BF16;
            default -> null;
        };
    }

    /** One tensor: its PyTorch-order shape, type and absolute byte range in the file. */
    public record Entry(String name, DType dtype, long[] shape, long start, long end) {
    }

    private final Path path;
    private final MemorySegment file;
    private final Map<String, Object> metadata;
    private final Map<String, Entry> entries;

    private GgufFile(Path path, MemorySegment file, Map<String, Object> metadata, Map<String, Entry> entries) {
        this.path = path;
        this.file = file;
        this.metadata = metadata;
        this.entries = entries;
    }

    /** True when the file starts with the GGUF magic. */
    public static boolean isGguf(Path p) {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            return ch.read(b) == 4 && b.getInt(0) == MAGIC;
        } catch (IOException e) {
            return false;
        }
    }

    /** Maps and validates a GGUF file. */
    public static GgufFile open(Path path) {
        String fname = path.getFileName().toString();
        // An automatic arena: the mapping lives until the last tensor view is unreachable. Views into a shared
        // arena pay a liveness check on every access that the JIT cannot always hoist out of a kernel's loop.
        Arena arena = Arena.ofAuto();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            Reader r = new Reader(seg, fname);
            if (size < 24 || r.u32() != MAGIC) {
                throw new ModelFormatException(fname + ": not a GGUF file");
            }
            int version = r.u32();
            if (version != 2 && version != 3) {
                throw new ModelFormatException(fname + ": GGUF version " + version + " is not supported (2 or 3)");
            }
            long nTensors = r.count("tensor count");
            long nKv = r.count("metadata count");
            Map<String, Object> meta = new LinkedHashMap<>();
            for (long i = 0; i < nKv; i++) {
                String key = r.string();
                int type = r.u32();
                if (meta.put(key, r.value(type, key)) != null) {
                    throw new ModelFormatException(fname + ": metadata key '" + key + "' appears twice");
                }
            }
            List<long[]> dims = new ArrayList<>();
            List<String> names = new ArrayList<>();
            List<Integer> types = new ArrayList<>();
            List<Long> offsets = new ArrayList<>();
            for (long i = 0; i < nTensors; i++) {
                String name = r.string();
                int nd = r.u32();
                if (nd < 1 || nd > 4) {
                    throw new ModelFormatException(fname + ": tensor '" + name + "' has " + nd + " dimensions");
                }
                long[] ne = new long[nd];
                for (int d = 0; d < nd; d++) {
                    ne[d] = r.u64();
                    if (ne[d] < 0 || ne[d] > (1L << 40)) {
                        throw new ModelFormatException(fname + ": tensor '" + name + "' has an invalid dimension");
                    }
                }
                names.add(name);
                dims.add(ne);
                types.add(r.u32());
                offsets.add(r.u64());
            }
            Object al = meta.get("general.alignment");
            long alignment = al instanceof Number n ? n.longValue() : DEFAULT_ALIGNMENT;
            if (alignment <= 0 || alignment > 4096 || Long.bitCount(alignment) != 1) {
                throw new ModelFormatException(fname + ": invalid general.alignment " + alignment);
            }
            long dataStart = (r.pos + alignment - 1) / alignment * alignment;
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (int i = 0; i < names.size(); i++) {
                String name = names.get(i);
                DType t = fromGgml(types.get(i));
                if (t == null) {
                    throw new ModelFormatException(fname + ": tensor '" + name + "' has ggml type " + types.get(i)
                            + ", which cogvlm4j does not read (F32, F16, BF16, Q8_0, Q4_0)");
                }
                long[] ne = dims.get(i);
                long elements = 1;
                long[] shape = new long[ne.length];
                for (int d = 0; d < ne.length; d++) {
                    shape[d] = ne[ne.length - 1 - d];
                    elements = Math.multiplyExact(elements, ne[d]);
                }
                if (t.isQuantized() && ne[0] % DType.BLOCK != 0) {
                    throw new ModelFormatException(fname + ": tensor '" + name + "' rows of " + ne[0] + " are not whole blocks");
                }
                long off = offsets.get(i);
                if (off < 0 || off % alignment != 0) {
                    throw new ModelFormatException(fname + ": tensor '" + name + "' offset " + off + " is not aligned");
                }
                long start = dataStart + off;
                long end = start + t.byteSize(elements);
                if (end > size || start < dataStart) {
                    throw new ModelFormatException(fname + ": tensor '" + name + "' ends at byte " + end
                            + " but the file has " + size + " bytes (truncated?)");
                }
                if (entries.put(name, new Entry(name, t, shape, start, end)) != null) {
                    throw new ModelFormatException(fname + ": tensor '" + name + "' appears twice");
                }
            }
            List<Entry> sorted = new ArrayList<>(entries.values());
            sorted.sort(Comparator.comparingLong(Entry::start));
            for (int i = 1; i < sorted.size(); i++) {
                if (sorted.get(i).start() < sorted.get(i - 1).end()) {
                    throw new ModelFormatException(fname + ": tensor '" + sorted.get(i).name() + "' overlaps '"
                            + sorted.get(i - 1).name() + "'");
                }
            }
            return new GgufFile(path, seg, Collections.unmodifiableMap(meta), Collections.unmodifiableMap(entries));
        } catch (IOException e) {
            throw new ModelFormatException(fname + ": cannot read: " + e.getMessage());
        } catch (ArithmeticException e) {
            throw new ModelFormatException(fname + ": a tensor is too large to address");
        } catch (RuntimeException e) {
            throw e;
        }
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** Metadata values: String, Long, Double, Boolean, byte[] (UINT8 arrays) or List. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** A string metadata value, or null. */
    public String string(String key) {
        return metadata.get(key) instanceof String s ? s : null;
    }

    /** Tensors in file order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    /** The bytes of one tensor, as a slice of the mapping. */
    public MemorySegment bytes(Entry e) {
        return file.asSlice(e.start(), e.end() - e.start());
    }

    /** Releases the file; the mapping goes once no tensor view of it is reachable. */
    @Override
    public void close() {
        // Nothing to do eagerly: see open().
    }

    /** Bounds-checked little-endian reads from the mapping. */
    private static final class Reader {
        private final MemorySegment seg;
        private final String fname;
        long pos;

        Reader(MemorySegment seg, String fname) {
            this.seg = seg;
            this.fname = fname;
        }

        private void need(long n) {
            if (n < 0 || pos + n > seg.byteSize()) {
                throw new ModelFormatException(fname + ": header runs past the end of the file (truncated or corrupt)");
            }
        }

        int u32() {
            need(4);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        long u64() {
            need(8);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        long count(String what) {
            long n = u64();
            if (n < 0 || n > MAX_ITEMS) {
                throw new ModelFormatException(fname + ": implausible " + what + " " + Long.toUnsignedString(n));
            }
            return n;
        }

        String string() {
            long len = u64();
            if (len < 0 || len > (1 << 30)) {
                throw new ModelFormatException(fname + ": implausible string length " + Long.toUnsignedString(len));
            }
            need(len);
            byte[] b = seg.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            return new String(b, StandardCharsets.UTF_8);
        }

        Object value(int type, String key) {
            return switch (type) {
                case 0, 1 -> {
                    need(1);
                    yield (long) (type == 0 ? seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xff : seg.get(ValueLayout.JAVA_BYTE, pos++));
                }
                case 2, 3 -> {
                    need(2);
                    short s = seg.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
                    pos += 2;
                    yield type == 2 ? (long) (s & 0xffff) : (long) s;
                }
                case 4 -> u32() & 0xffffffffL;
                case 5 -> (long) u32();
                case 6 -> (double) Float.intBitsToFloat(u32());
                case 7 -> {
                    need(1);
                    yield seg.get(ValueLayout.JAVA_BYTE, pos++) != 0;
                }
                case 8 -> string();
                case 9 -> array(key);
                case 10, 11 -> u64();
                case 12 -> Double.longBitsToDouble(u64());
                default -> throw new ModelFormatException(fname + ": metadata '" + key + "' has unknown type " + type);
            };
        }

        private Object array(String key) {
            int type = u32();
            long n = u64();
            if (n < 0 || n > seg.byteSize() - pos) {
                throw new ModelFormatException(fname + ": metadata '" + key + "' array length " + Long.toUnsignedString(n) + " is implausible");
            }
            if (type == 0) {
                need(n);
                byte[] b = seg.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE);
                pos += n;
                return b;
            }
            if (type == 9) {
                throw new ModelFormatException(fname + ": metadata '" + key + "' nests arrays");
            }
            List<Object> out = new ArrayList<>();
            for (long i = 0; i < n; i++) {
                out.add(value(type, key));
            }
            return out;
        }
    }
}
