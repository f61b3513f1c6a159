package dev.cogvlm4j.model;

import dev.cogvlm4j.io.SafeTensorsFile;
import dev.cogvlm4j.io.SafeTensorsWriter;
import dev.cogvlm4j.vision.RgbImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reuse across questions about the same image: the vision features (the tower is the most expensive stage) keyed
 * by image content and model, kept in memory and optionally in a cache folder shared across processes; and the
 * decoder sessions of recent conversations, whose KV cache covers every token a follow-up question shares with
 * them.
 */
public final class PrefixCache {
    /** Vision features kept in memory. */
    private static final int FEATURES = 4;
    /**
     * Idle sessions kept for follow-up questions. One: a CogVLM-17B session over an image holds 1.3 GB of float32
     * keys and values, so parking more would crowd the heap.
     */
    private static final int SESSIONS = 1;

    /** A session parked after answering, with the tokens its cache holds. */
    private record Parked(String imageKey, int[] tokens, Session session) {
    }

    /** A session ready to continue: {@code shared} tokens of the new input are already in its cache. */
    public record Reuse(Session session, int shared) {
    }

    private final CogVlmModel model;
    private final String modelKey;
    private final Path folder;
    private final Map<String, ImageFeatures> features = new LinkedHashMap<>(16, 0.75f, true);
    private final List<Parked> parked = new ArrayList<>();

    /** A cache for one model; {@code folder} (may be null) persists vision features across processes. */
    public PrefixCache(CogVlmModel model, Path folder) {
        this.model = model;
        this.folder = folder;
        this.modelKey = sha256(model.checkpoint().configJson().getBytes(StandardCharsets.UTF_8),
                (model.checkpoint().path().toAbsolutePath() + "|" + model.checkpoint().parameterBytes())
                        .getBytes(StandardCharsets.UTF_8)).substring(0, 16);
    }

    /** Content key of an image. */
    public static String imageKey(RgbImage image) {
        ByteBuffer dims = ByteBuffer.allocate(8).putInt(image.width()).putInt(image.height());
        return sha256(dims.array(), image.rgb());
    }

    /** The image's features, from memory, the folder, or by running the tower(s). */
    public ImageFeatures features(RgbImage image, String key) {
        synchronized (features) {
            ImageFeatures f = features.get(key);
            if (f != null) {
                return f;
            }
        }
        ImageFeatures f = load(key);
        if (f == null) {
            f = model.encode(model.prepare(image));
            store(key, f);
        }
        synchronized (features) {
            features.put(key, f);
            while (features.size() > FEATURES) {
                features.remove(features.keySet().iterator().next());
            }
        }
        return f;
    }

    /** True when the image's features are already at hand (memory or folder). */
    public boolean hasFeatures(String key) {
        synchronized (features) {
            if (features.containsKey(key)) {
                return true;
            }
        }
        return folder != null && Files.isRegularFile(file(key));
    }

    /**
     * Takes the parked session sharing the longest prefix with {@code input} (at least bos and the whole image),
     * or returns null. The caller owns the session until it {@link #park parks} it again.
     */
    public synchronized Reuse take(ModelInput input, String imageKey) {
        int best = -1;
        int bestLen = 0;
        int minimum = 1 + input.imageSlots();
        for (int i = 0; i < parked.size(); i++) {
            Parked p = parked.get(i);
            if (input.imageSlots() > 0 && !p.imageKey().equals(imageKey)) {
                continue;
            }
            int len = commonPrefix(p.tokens(), input.inputIds());
            len = Math.min(len, Math.min(p.session().length(), input.length() - 1));
            if (len >= minimum && len > bestLen) {
                best = i;
                bestLen = len;
            }
        }
        if (best < 0) {
            return null;
        }
        return new Reuse(parked.remove(best).session(), bestLen);
    }

    /** Parks a session whose cache holds {@code tokens} for later follow-ups. */
    public synchronized void park(Session session, int[] tokens, String imageKey) {
        parked.add(0, new Parked(imageKey == null ? "" : imageKey, tokens, session));
        while (parked.size() > SESSIONS) {
            parked.remove(parked.size() - 1);
        }
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = Math.min(a.length, b.length);
        int i = 0;
        while (i < n && a[i] == b[i]) {
            i++;
        }
        return i;
    }

    private Path file(String key) {
        return folder.resolve(modelKey + "-" + key.substring(0, 32) + ".safetensors");
    }

    private ImageFeatures load(String key) {
        if (folder == null || !Files.isRegularFile(file(key))) {
            return null;
        }
        try (SafeTensorsFile f = SafeTensorsFile.open(file(key))) {
            float[] v = f.floats("vision_out");
            float[] c = f.entries().containsKey("cross_vision_out") ? f.floats("cross_vision_out") : null;
            CogVlmConfig cfg = model.config();
            if (v.length != cfg.imageTokens() * cfg.hiddenSize()) {
                return null;
            }
            return new ImageFeatures(v, cfg.imageTokens(), c, c == null ? 0 : cfg.cross().grid() * cfg.cross().grid());
        } catch (RuntimeException e) {
            return null;
        }
    }

    private void store(String key, ImageFeatures f) {
        if (folder == null) {
            return;
        }
        try {
            Files.createDirectories(folder);
            SafeTensorsWriter w = new SafeTensorsWriter().f32("vision_out", f.visionOut(), f.tokens(), model.config().hiddenSize());
            if (f.crossOut() != null) {
                w.f32("cross_vision_out", f.crossOut(), f.crossTokens(), model.config().cross().hiddenSize());
            }
            Path tmp = Files.createTempFile(folder, "features", ".part");
            w.write(tmp);
            Files.move(tmp, file(key), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            // A cache that cannot be written only costs speed.
        }
    }

    private static String sha256(byte[]... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (byte[] p : parts) {
                md.update(p);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
