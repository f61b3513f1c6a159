package dev.cogvlm4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.text.Turn;
import dev.cogvlm4j.vision.RgbImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The request files of the {@code logits} and {@code generate} contract commands: raw
 * {@code {"input_ids", "token_type_ids", "image"}} or text {@code {"prompt", "history", "image", "template"}}.
 */
final class Requests {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A parsed request: the decoder input and the decoded image (or null). */
    record Parsed(ModelInput input, RgbImage image) {
    }

    private Requests() {
    }

    static JsonNode readFile(Path file) {
        try {
            return parse(Files.readString(file), file.getFileName().toString());
        } catch (IOException e) {
            throw new Main.UserException(file + ": cannot read: " + Main.oneLine(e));
        }
    }

    static JsonNode parse(String text, String where) {
        try {
            JsonNode n = JSON.readTree(text);
            if (n == null || !n.isObject()) {
                throw new Main.UserException(where + ": a request must be a JSON object");
            }
            return n;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new Main.UserException(where + ": not valid JSON: " + e.getOriginalMessage().replace('\n', ' '));
        }
    }

    /** Turns a request into a decoder input; relative image paths resolve against {@code baseDirs} in order. */
    static Parsed resolve(CogVlm vlm, JsonNode r, String where, List<Path> baseDirs) {
        boolean raw = r.has("input_ids");
        boolean text = r.has("prompt");
        if (raw == text) {
            throw new Main.UserException(where + ": give either \"input_ids\" or \"prompt\"");
        }
        RgbImage image = null;
        JsonNode img = r.get("image");
        if (img != null && !img.isNull()) {
            if (!img.isTextual() || img.asText().isEmpty()) {
                throw new Main.UserException(where + ": \"image\" must be a file path");
            }
            image = vlm.loadImage(findImage(img.asText(), baseDirs));
        }
        if (raw) {
            int[] ids = intArray(r.get("input_ids"), where, "input_ids");
            int[] types = r.has("token_type_ids") ? intArray(r.get("token_type_ids"), where, "token_type_ids")
                    : new int[ids.length];
            if (ids.length == 0) {
                throw new Main.UserException(where + ": \"input_ids\" is empty");
            }
            ModelInput in = ModelInput.raw(ids, types);
            if (in.imageSlots() > 0 && image == null) {
                throw new Main.UserException(where + ": token_type_ids mark " + in.imageSlots() + " image slots but no \"image\" is given");
            }
            if (in.imageSlots() == 0 && image != null) {
                throw new Main.UserException(where + ": an \"image\" is given but token_type_ids mark no image slots");
            }
            if (in.imageSlots() > 0 && in.imageSlots() != vlm.config().imageTokens()) {
                throw new Main.UserException(where + ": token_type_ids mark " + in.imageSlots() + " image slots but this model's image fills "
                        + vlm.config().imageTokens());
            }
            vlm.checkContext(in);
            return new Parsed(in, image);
        }
        JsonNode p = r.get("prompt");
        if (!p.isTextual()) {
            throw new Main.UserException(where + ": \"prompt\" must be a string");
        }
        List<Turn> history = new ArrayList<>();
        JsonNode h = r.get("history");
        if (h != null && !h.isNull()) {
            if (!h.isArray()) {
                throw new Main.UserException(where + ": \"history\" must be a list of [question, answer] pairs");
            }
            for (JsonNode t : h) {
                if (!t.isArray() || t.size() != 2 || !t.get(0).isTextual() || !t.get(1).isTextual()) {
                    throw new Main.UserException(where + ": each history entry must be [\"question\", \"answer\"]");
                }
                history.add(new Turn(t.get(0).asText(), t.get(1).asText()));
            }
        }
        JsonNode tpl = r.get("template");
        if (tpl != null && !tpl.isNull() && !tpl.isTextual()) {
            throw new Main.UserException(where + ": \"template\" must be a string");
        }
        Question q = new Question(p.asText(), history, image, tpl == null || tpl.isNull() ? null : tpl.asText());
        return new Parsed(vlm.input(q), image);
    }

    private static Path findImage(String name, List<Path> baseDirs) {
        Path p = Path.of(name);
        if (p.isAbsolute() || Files.exists(p)) {
            return p;
        }
        for (Path base : baseDirs) {
            if (base != null && Files.exists(base.resolve(name))) {
                return base.resolve(name);
            }
        }
        return p;
    }

    private static int[] intArray(JsonNode n, String where, String field) {
        if (n == null || !n.isArray()) {
            throw new Main.UserException(where + ": \"" + field + "\" must be a list of integers");
        }
        int[] out = new int[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode x = n.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToInt()) {
                throw new Main.UserException(where + ": \"" + field + "\"[" + i + "] is not an integer: " + x);
            }
            out[i] = x.asInt();
        }
        return out;
    }
}
