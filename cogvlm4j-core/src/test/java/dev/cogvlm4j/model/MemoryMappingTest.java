package dev.cogvlm4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.Fixtures;
import dev.cogvlm4j.io.SafeTensorsFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading maps the checkpoint: resident memory grows by a small fraction of the file, whatever its size. */
class MemoryMappingTest {
    private static final int BIG_VOCAB = 2_000_000;

    @TempDir
    Path tmp;

    static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS");
    }

    @Test
    void loadingDoesNotCopyWeights() throws IOException {
        assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "needs Linux /proc");
        // A CogVLM layout with a 2M-token vocabulary: 512 MB of embeddings and LM head, written as a sparse file.
        Path src = Fixtures.caseDir("cogvlm_base");
        ObjectMapper om = new ObjectMapper();
        ObjectNode config = (ObjectNode) om.readTree(src.resolve("config.json").toFile());
        config.put("vocab_size", BIG_VOCAB);
        om.writeValue(tmp.resolve("config.json").toFile(), config);
        ObjectNode header = om.createObjectNode();
        long offset = 0;
        try (SafeTensorsFile f = SafeTensorsFile.open(src.resolve("model.safetensors"))) {
            for (var e : f.entries().values()) {
                long[] shape = e.shape().clone();
                if (e.name().equals("model.embed_tokens.weight") || e.name().equals("lm_head.weight")) {
                    shape[0] = BIG_VOCAB;
                }
                long bytes = 2;
                for (long d : shape) {
                    bytes *= d;
                }
                ObjectNode t = header.putObject(e.name());
                t.put("dtype", "BF16");
                var s = t.putArray("shape");
                for (long d : shape) {
                    s.add(d);
                }
                t.putArray("data_offsets").add(offset).add(offset + bytes);
                offset += bytes;
            }
        }
        byte[] h = om.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        long fileSize = 8 + h.length + offset;
        try (RandomAccessFile raf = new RandomAccessFile(tmp.resolve("model.safetensors").toFile(), "rw")) {
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
            raf.write(h);
            raf.setLength(fileSize);
        }
        System.gc();
        long before = residentBytes();
        try (CogVlmModel model = CogVlmModel.load(tmp)) {
            long after = residentBytes();
            long grew = after - before;
            assertTrue(fileSize > 400L << 20, "test file too small: " + fileSize);
            assertTrue(grew < fileSize / 8, "resident memory grew by " + grew + " bytes loading a " + fileSize + "-byte checkpoint");
            // The mapped model still runs.
            float[] logits = model.newSession().prefill(ModelInput.raw(new int[]{1, 5, 7}, new int[3]), null, false);
            assertTrue(logits.length == BIG_VOCAB && !Float.isNaN(logits[0]));
        }
    }
}
