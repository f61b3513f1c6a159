package dev.cogvlm4j.io;

import dev.cogvlm4j.tensor.DType;
import dev.cogvlm4j.tensor.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Converts a checkpoint into one GGUF file: weight matrices re-encoded (Q8_0, Q4_0, BF16, F16 or F32), everything
 * else (norms, biases, position tables, boi/eoi) kept as F32, with config.json and the tokenizer files in the
 * metadata. Tensors are streamed one at a time; the source stays memory-mapped.
 */
public final class GgufConverter {
    /**
     * What happens to one tensor.
     *
     * @param name   checkpoint name
     * @param from   stored type
     * @param to     written type
     * @param shape  PyTorch-order shape
     */
    public record Step(String name, DType from, DType to, long[] shape) {
        /** Elements in the tensor. */
        public long elements() {
            return dev.cogvlm4j.tensor.Shapes.elements(shape);
        }
    }

    private GgufConverter() {
    }

    /** True for the vision towers' tensors (encoded with the vision type). */
    static boolean isVision(String name) {
        return name.startsWith("model.vision.") || name.startsWith("model.cross_vision.");
    }

    /** True for tensors multiplied as matrices or gathered as embedding rows: the ones worth re-encoding. */
    static boolean isMatrix(String name, long[] shape) {
        return shape.length >= 2 && name.endsWith(".weight") && !name.contains("norm")
                && !name.contains("position_embedding") && !name.contains("pos_embed");
    }

    /** The vocabulary-sized tensors: token embeddings and the LM head. */
    static boolean isVocabulary(String name) {
        return name.equals("model.embed_tokens.weight") || name.equals("lm_head.weight");
    }

    /** The type a tensor stored as {@code from} is written in. */
    public static DType targetType(String name, long[] shape, DType from, DType type, DType visionType) {
        if (!isMatrix(name, shape)) {
            return DType.F32;
        }
        DType to = isVision(name) ? visionType : type;
        DType keep = from == DType.F32 ? DType.F32 : DType.BF16;
        if (isVocabulary(name) && to.isQuantized()) {
            // The token embeddings and the output head, like llama.cpp's output tensor, keep more precision than
            // the layers: their error lands directly on every logit.
            to = to == DType.Q4_0 ? DType.Q8_0 : keep;
        }
        long elements = dev.cogvlm4j.tensor.Shapes.elements(shape);
        if (to.isQuantized() && (elements / Math.max(1, shape[0])) % DType.BLOCK != 0) {
            // Rows that are not whole 32-value blocks (e.g. a 14×14×3 patch kernel) keep a float type.
            to = keep;
        }
        return to;
    }

    /** The type each tensor is written in. */
    public static List<Step> plan(Checkpoint ck, DType type, DType visionType) {
        List<Step> steps = new ArrayList<>();
        for (Checkpoint.Entry e : ck.entries()) {
            steps.add(new Step(e.name(), e.dtype(), targetType(e.name(), e.shape(), e.dtype(), type, visionType), e.shape()));
        }
        return steps;
    }

    /**
     * Writes {@code out}. {@code files} are carried in the metadata (tokenizer.json, tokenizer.model,
     * tokenizer_config.json); {@code progress} hears each tensor's step before it is written.
     */
    public static void convert(Checkpoint ck, Path out, DType type, DType visionType, Map<String, byte[]> files,
                               Consumer<Step> progress) throws IOException {
        GgufWriter w = new GgufWriter(out);
        w.put("general.architecture", "cogvlm");
        w.put("general.name", ck.path().getFileName().toString());
        w.put(Checkpoint.GGUF_CONFIG, ck.configJson());
        w.put("cogvlm4j.quantization", type.name().toLowerCase(java.util.Locale.ROOT));
        w.put("cogvlm4j.vision_quantization", visionType.name().toLowerCase(java.util.Locale.ROOT));
        files.forEach((name, bytes) -> w.put(Checkpoint.GGUF_FILE + name, bytes));
        List<Step> steps = plan(ck, type, visionType);
        java.util.Map<String, Step> byName = new java.util.HashMap<>();
        for (Step s : steps) {
            byName.put(s.name(), s);
            w.tensor(s.name(), s.to(), s.shape(), dst -> encode(ck.tensor(s.name()), s.to(), dst));
        }
        w.write(name -> {
            if (progress != null) {
                progress.accept(byName.get(name));
            }
        });
    }

    private static void encode(Tensor src, DType to, MemorySegment dst) {
        if (src.dtype() == to) {
            MemorySegment.copy(src.segment(), 0, dst, 0, dst.byteSize());
            return;
        }
        long n = src.size();
        int rowLen = Math.max(1, src.cols());
        int chunk = Math.max(rowLen, (1 << 20) / rowLen * rowLen);
        float[] buf = new float[(int) Math.min(n, chunk)];
        for (long done = 0; done < n; done += chunk) {
            int len = (int) Math.min(chunk, n - done);
            src.read(done, buf, 0, len);
            Quantizer.encode(buf, len, to, dst, to.byteSize(done));
        }
    }
}
