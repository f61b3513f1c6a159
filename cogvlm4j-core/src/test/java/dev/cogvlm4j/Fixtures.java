package dev.cogvlm4j;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Locates reference fixtures: the small cases bundled in test resources, the rest in {@code ../shared/fixtures}
 * (the {@code cogvlm4j.fixtures} system property), which CI always has.
 */
public final class Fixtures {
    private Fixtures() {
    }

    /** The shared fixtures folder, or null when this checkout has none. */
    public static Path shared() {
        String p = System.getProperty("cogvlm4j.fixtures");
        if (p != null && Files.isDirectory(Paths.get(p))) {
            return Paths.get(p).normalize();
        }
        Path here = Paths.get("").toAbsolutePath();
        for (Path d = here; d != null; d = d.getParent()) {
            Path cand = d.resolveSibling("shared").resolve("fixtures");
            if (Files.isDirectory(cand)) {
                return cand;
            }
        }
        return null;
    }

    /** The bundled fixtures folder inside test resources. */
    public static Path bundled() {
        URL u = Fixtures.class.getResource("/fixtures");
        try {
            return u == null ? null : Paths.get(u.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A case folder, bundled first; skips the test when neither location has it. */
    public static Path caseDir(String name) {
        Path b = bundled();
        if (b != null && Files.isDirectory(b.resolve(name))) {
            return b.resolve(name);
        }
        Path s = shared();
        assumeTrue(s != null && Files.isDirectory(s.resolve(name)), "fixture " + name + " not available");
        return s.resolve(name);
    }

    /** A file under the shared fixtures, skipping the test when it is absent. */
    public static Path sharedFile(String rel) {
        Path s = shared();
        assumeTrue(s != null && Files.exists(s.resolve(rel)), "shared fixture " + rel + " not available");
        return s.resolve(rel);
    }

    /** All model cases: from the shared index when present, else the bundled ones. */
    public static List<String> cases() {
        List<String> out = new ArrayList<>();
        Path s = shared();
        try {
            if (s != null && Files.isRegularFile(s.resolve("index.json"))) {
                for (JsonNode n : new ObjectMapper().readTree(s.resolve("index.json").toFile())) {
                    out.add(n.get("case").asText());
                }
                return out;
            }
            try (var st = Files.list(bundled())) {
                st.filter(Files::isDirectory).forEach(p -> out.add(p.getFileName().toString()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        out.sort(null);
        return out;
    }

    /** Parses a case's expected.json. */
    public static JsonNode expected(Path caseDir) {
        try {
            return new ObjectMapper().readTree(caseDir.resolve("expected.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A JSON int array as int[]. */
    public static int[] ints(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = arr.get(i).asInt();
        }
        return out;
    }
}
