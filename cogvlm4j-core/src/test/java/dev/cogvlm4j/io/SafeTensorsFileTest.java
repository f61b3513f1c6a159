package dev.cogvlm4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.Fixtures;
import dev.cogvlm4j.tensor.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Header validation: every lie a file can tell is caught before a tensor is used, with file and tensor named. */
class SafeTensorsFileTest {
    @TempDir
    Path tmp;

    private Path file(String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = tmp.resolve("model.safetensors");
        Files.write(p, b.array());
        return p;
    }

    private String error(Path p) {
        return assertThrows(ModelFormatException.class, () -> SafeTensorsFile.open(p).close()).getMessage();
    }

    @Test
    void readsWhatItWrites() throws IOException {
        Path p = tmp.resolve("x.safetensors");
        new SafeTensorsWriter().f32("a", new float[]{1, 2, 3, 4, 5, 6}, 2, 3).i64("b", new long[]{7, -8}, 2).write(p);
        try (SafeTensorsFile f = SafeTensorsFile.open(p)) {
            assertArrayEquals(new float[]{1, 2, 3, 4, 5, 6}, f.floats("a"));
            assertArrayEquals(new long[]{7, -8}, f.longs("b"));
            assertEquals(DType.F32, f.entries().get("a").dtype());
            assertEquals(2, f.tensor("a").rows());
            assertEquals(3, f.tensor("a").cols());
        }
    }

    @Test
    void tensorPastEndOfFile() throws IOException {
        String m = error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8));
        assertTrue(m.contains("model.safetensors: tensor 'x' ends at byte 16 but the file has 8 bytes"), m);
    }

    @Test
    void lengthDisagreesWithShape() throws IOException {
        String m = error(file("{\"x\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,16]}}", 16));
        assertTrue(m.contains("tensor 'x' holds 16 bytes but BF16 [3, 3] needs 18"), m);
    }

    @Test
    void overlappingTensors() throws IOException {
        String m = error(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12));
        assertTrue(m.contains("overlaps"), m);
    }

    @Test
    void hugeHeaderLength() throws IOException {
        Path p = tmp.resolve("h.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE).putLong(0);
        Files.write(p, b.array());
        assertTrue(error(p).contains("header length"), error(p));
    }

    @Test
    void headerLongerThanFile() throws IOException {
        Path p = tmp.resolve("h.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).putLong(0);
        Files.write(p, b.array());
        assertTrue(error(p).contains("runs past the end"), error(p));
    }

    @Test
    void tooShort() throws IOException {
        Path p = tmp.resolve("s.safetensors");
        Files.write(p, new byte[3]);
        assertTrue(error(p).contains("too short"), error(p));
    }

    @Test
    void notJson() throws IOException {
        assertTrue(error(file("{not json", 0)).contains("not valid JSON"));
        assertTrue(error(file("[1,2]", 0)).contains("not a JSON object"));
    }

    @Test
    void unknownDtypeBadShapeBadOffsetsDuplicates() throws IOException {
        assertTrue(error(file("{\"x\":{\"dtype\":\"Q9\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1)).contains("unknown dtype"));
        assertTrue(error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4)).contains("invalid shape"));
        assertTrue(error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4)).contains("out of order"));
        assertTrue(error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4)).contains("data_offsets"));
        assertTrue(error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4))
                .contains("too large"));
        assertTrue(error(file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4)).contains("not valid JSON"));
    }

    @Test
    void truncatedRealCheckpoint() throws IOException {
        Path src = Fixtures.caseDir("cogvlm_base").resolve("model.safetensors");
        byte[] all = Files.readAllBytes(src);
        Path p = tmp.resolve("model.safetensors");
        Files.write(p, java.util.Arrays.copyOf(all, all.length / 2));
        String m = error(p);
        assertTrue(m.startsWith("model.safetensors: tensor '") && m.contains("truncated"), m);
    }

    @Test
    void checkpointReportsMissingTensorAndWrongShape() throws IOException {
        Path dir = Fixtures.caseDir("cogvlm_base");
        try (Checkpoint ck = Checkpoint.open(dir)) {
            String m = assertThrows(ModelFormatException.class, () -> ck.tensor("model.nope", 1)).getMessage();
            assertTrue(m.contains("missing tensor 'model.nope'"), m);
            m = assertThrows(ModelFormatException.class, () -> ck.tensor("model.norm.weight", 65)).getMessage();
            assertTrue(m.contains("tensor 'model.norm.weight' has shape [64] but config.json implies [65]"), m);
        }
    }

    @Test
    void shardedCheckpointWithIndex() throws IOException {
        // Split a real checkpoint into two shards plus an index, as HuggingFace saves large models.
        Path src = Fixtures.caseDir("cogvlm_base");
        Path dir = tmp.resolve("sharded");
        Files.createDirectories(dir);
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        StringBuilder index = new StringBuilder("{\"metadata\":{},\"weight_map\":{");
        try (SafeTensorsFile f = SafeTensorsFile.open(src.resolve("model.safetensors"))) {
            SafeTensorsWriter[] w = {new SafeTensorsWriter(), new SafeTensorsWriter()};
            int i = 0;
            for (var e : f.entries().values()) {
                int shard = i++ % 2;
                w[shard].f32(e.name(), f.floats(e.name()), e.shape());
                index.append(i > 1 ? "," : "").append('"').append(e.name()).append("\":\"model-0000")
                        .append(shard + 1).append("-of-00002.safetensors\"");
            }
            w[0].f32("model.layers.0.self_attn.rotary_emb.inv_freq", new float[8], 8);
            w[0].write(dir.resolve("model-00001-of-00002.safetensors"));
            w[1].write(dir.resolve("model-00002-of-00002.safetensors"));
        }
        Files.writeString(dir.resolve("model.safetensors.index.json"), index.append("}}").toString());
        try (Checkpoint ck = Checkpoint.open(dir); Checkpoint orig = Checkpoint.open(src)) {
            assertEquals(orig.names(), ck.names());
            assertTrue(!ck.has("model.layers.0.self_attn.rotary_emb.inv_freq"), "buffers are not parameters");
        }
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"a\":\"../x.safetensors\"}}");
        String m = assertThrows(ModelFormatException.class, () -> Checkpoint.open(dir)).getMessage();
        assertTrue(m.contains("leaves the model folder"), m);
    }

    @Test
    void mapsWithoutCopying() throws IOException {
        // The mapped weights are views: reading a tensor allocates nothing proportional to the file.
        Path dir = Fixtures.caseDir("cogvlm_base");
        try (Checkpoint ck = Checkpoint.open(dir)) {
            var t = ck.tensor("lm_head.weight", 512, 64);
            assertEquals(DType.BF16, t.dtype());
            assertTrue(ck.parameterBytes() > 0);
        }
    }
}
