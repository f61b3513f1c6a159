package dev.cogvlm4j.io;

import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Shapes;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file: metadata, tensor descriptions, then the tensor data at 32-byte-aligned offsets. Tensors
 * are declared first and then streamed one at a time, so a model is converted with one tensor in memory.
 */
public final class GgufWriter implements AutoCloseable {
    /** Produces a tensor's encoded bytes into the given destination segment. */
    @FunctionalInterface
    public interface Source {
        /** Writes exactly the declared byte size into {@code dst}. */
        void write(MemorySegment dst) throws IOException;
    }

    private record Decl(String name, DType type, long[] shape, long size, Source source) {
    }

    private final Path path;
    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final List<Decl> tensors = new ArrayList<>();

    /** A writer for {@code path} (written by {@link #write}). */
    public GgufWriter(Path path) {
        this.path = path;
        metadata.put("general.alignment", (long) GgufFile.DEFAULT_ALIGNMENT);
    }

    /** Adds a string metadata value. */
    public GgufWriter put(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a byte-array metadata value (a UINT8 array). */
    public GgufWriter put(String key, byte[] value) {
        metadata.put(key, value);
        return this;
    }

    /** Declares a tensor with its PyTorch-order shape, storage type and producer. */
    public GgufWriter tensor(String name, DType type, long[] shape, Source source) {
        tensors.add(new Decl(name, type, shape.clone(), type.byteSize(Shapes.elements(shape)), source));
        return this;
    }

    /** Total bytes of tensor data declared. */
    public long dataBytes() {
        long t = 0;
        for (Decl d : tensors) {
            t += align(d.size());
        }
        return t;
    }

    private static long align(long v) {
        return (v + GgufFile.DEFAULT_ALIGNMENT - 1) / GgufFile.DEFAULT_ALIGNMENT * GgufFile.DEFAULT_ALIGNMENT;
    }

    /** Writes the file; {@code progress} is told each tensor's name as it is written. */
    public void write(java.util.function.Consumer<String> progress) throws IOException {
        ByteBuf h = new ByteBuf();
        h.u32(GgufFile.MAGIC);
        h.u32(3);
        h.u64(tensors.size());
        h.u64(metadata.size());
        for (var e : metadata.entrySet()) {
            h.string(e.getKey());
            Object v = e.getValue();
            if (v instanceof String s) {
                h.u32(8);
                h.string(s);
            } else if (v instanceof Long l) {
                h.u32(4);
                h.u32((int) (long) l);
            } else if (v instanceof byte[] b) {
                h.u32(9);
                h.u32(0);
                h.u64(b.length);
                h.bytes(b);
            }
        }
        long offset = 0;
        for (Decl d : tensors) {
            h.string(d.name());
            h.u32(d.shape().length);
            for (int i = d.shape().length - 1; i >= 0; i--) {
                h.u64(d.shape()[i]);
            }
            h.u32(GgufFile.ggmlType(d.type()));
            h.u64(offset);
            offset += align(d.size());
        }
        long dataStart = align(h.size());
        long total = dataStart + offset;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
             Arena arena = Arena.ofShared()) {
            ch.write(ByteBuffer.wrap(h.array(), 0, h.size()));
            ch.truncate(total);
            long pos = dataStart;
            for (Decl d : tensors) {
                if (progress != null) {
                    progress.accept(d.name());
                }
                if (d.size() > 0) {
                    MemorySegment dst = ch.map(FileChannel.MapMode.READ_WRITE, pos, d.size(), arena);
                    d.source().write(dst);
                    dst.force();
                }
                pos += align(d.size());
            }
        }
    }

    @Override
    public void close() {
        tensors.clear();
    }

    /** A growable little-endian byte buffer for the header. */
    private static final class ByteBuf {
        private byte[] b = new byte[1 << 16];
        private int n;

        private void ensure(int more) {
            if (n + more > b.length) {
                b = java.util.Arrays.copyOf(b, Math.max(b.length * 2, n + more));
            }
        }

        void u32(int v) {
            ensure(4);
            ByteBuffer.wrap(b, n, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(v);
            n += 4;
        }

        void u64(long v) {
            ensure(8);
            ByteBuffer.wrap(b, n, 8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
            n += 8;
        }

        void string(String s) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            u64(u.length);
            bytes(u);
        }

        void bytes(byte[] u) {
            ensure(u.length);
            System.arraycopy(u, 0, b, n, u.length);
            n += u.length;
        }

        int size() {
            return n;
        }

        byte[] array() {
            return b;
        }
    }
}
