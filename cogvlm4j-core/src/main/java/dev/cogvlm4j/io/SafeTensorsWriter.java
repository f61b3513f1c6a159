package dev.cogvlm4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes F32, BF16 and I64 tensors (and optional string metadata) to a {@code .safetensors} file: the
 * {@code logits} contract command's output, trained checkpoints and training state.
 */
public final class SafeTensorsWriter {
    private record Item(String name, String dtype, long[] shape, byte[] data) {
    }

    private final List<Item> items = new ArrayList<>();
    private final java.util.Map<String, String> metadata = new java.util.TreeMap<>();

    /** Adds a {@code __metadata__} entry. */
    public SafeTensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a bfloat16 tensor, rounding to nearest even as torch does. */
    public SafeTensorsWriter bf16(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(Quantizer.toBf16(v));
        }
        items.add(new Item(name, "BF16", shape, b.array()));
        return this;
    }

    /** Adds a float32 tensor. */
    public SafeTensorsWriter f32(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        items.add(new Item(name, "F32", shape, b.array()));
        return this;
    }

    /** Adds an int64 tensor. */
    public SafeTensorsWriter i64(String name, long[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        items.add(new Item(name, "I64", shape, b.array()));
        return this;
    }

    /** Adds an int64 tensor from ints. */
    public SafeTensorsWriter i64(String name, int[] values, long... shape) {
        long[] l = new long[values.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = values[i];
        }
        return i64(name, l, shape);
    }

    /** Writes the header (padded to 8 bytes, as the reference writer does) followed by the tensor data. */
    public void write(Path out) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Item it : items) {
            ObjectNode t = header.putObject(it.name());
            t.put("dtype", it.dtype());
            var shape = t.putArray("shape");
            for (long d : it.shape()) {
                shape.add(d);
            }
            var offs = t.putArray("data_offsets");
            offs.add(offset);
            offs.add(offset + it.data().length);
            offset += it.data().length;
        }
        byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        byte[] hp = new byte[padded];
        System.arraycopy(h, 0, hp, 0, h.length);
        for (int i = h.length; i < padded; i++) {
            hp[i] = ' ';
        }
        try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(out), 1 << 20)) {
            os.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
            os.write(hp);
            for (Item it : items) {
                os.write(it.data());
            }
        }
    }
}
