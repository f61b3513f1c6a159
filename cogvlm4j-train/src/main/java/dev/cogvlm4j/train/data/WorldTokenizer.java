package dev.cogvlm4j.train.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cogvlm4j.train.world.Shape;
import dev.cogvlm4j.train.world.ShapesWorld;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Learns a small Llama-2-layout tokenizer (SentencePiece BPE with byte fallback) from the world's text and writes
 * it as a HuggingFace {@code tokenizer.json}. As in Llama's tokenizer, digits are never merged, so a box coordinate
 * is three single-digit tokens; merges never cross a word boundary (U+2581 only starts a piece). Optionally, as
 * GPT-2's pre-tokenizer does, letters and punctuation never merge, so a word is the same token before a question
 * mark, a comma, a full stop or a space. Optionally each of the world's noun phrases, a colour word then a shape
 * word, becomes one piece ({@code ▁green▁triangle}), the one kind of merge across a word boundary (SentencePiece
 * learns such pieces when it is not told to split on whitespace): a question about "the green triangle" then names the
 * object with one token, as the image names it with one code, and finding it is a match of one feature instead of
 * a conjunction of two.
 */
public final class WorldTokenizer {
    private static final String SPACE = "\u2581";
    /** {@code <unk>}, {@code <s>}, {@code </s>}, then 256 byte tokens, then the learned pieces. */
    private static final int FIRST_PIECE = 3 + 256;

    private WorldTokenizer() {
    }

    /**
     * Learns up to {@code maxMerges} merges from the text of {@code scenes} scenes drawn from {@code seed} and writes
     * {@code tokenizer.json}, {@code tokenizer_config.json} and {@code special_tokens_map.json} into {@code dir}.
     * Returns the vocabulary size. With {@code splitPunctuation} no merge joins letters and punctuation; with
     * {@code phrases} a last merge per colour and shape joins the two words into one piece.
     */
    public static int build(Path dir, long seed, int scenes, int maxMerges, boolean splitPunctuation, boolean phrases)
            throws IOException {
        Map<String, Integer> words = new TreeMap<>();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < scenes; i++) {
            for (String text : WorldText.sentences(ShapesWorld.scene(r))) {
                for (String w : text.split(" ")) {
                    if (!w.isEmpty()) {
                        words.merge(SPACE + w, 1, Integer::sum);
                    }
                }
            }
        }
        // Symbols start as single characters.
        TreeSet<String> chars = new TreeSet<>();
        List<List<String>> seqs = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (Map.Entry<String, Integer> e : words.entrySet()) {
            List<String> syms = new ArrayList<>();
            e.getKey().codePoints().forEach(cp -> {
                String c = new String(Character.toChars(cp));
                syms.add(c);
                chars.add(c);
            });
            seqs.add(syms);
            counts.add(e.getValue());
        }
        List<String[]> merges = new ArrayList<>();
        while (merges.size() < maxMerges) {
            Map<String, Integer> pairs = new HashMap<>();
            for (int s = 0; s < seqs.size(); s++) {
                List<String> syms = seqs.get(s);
                for (int i = 0; i + 1 < syms.size(); i++) {
                    if (hasDigit(syms.get(i)) || hasDigit(syms.get(i + 1))
                            || (splitPunctuation && mixesLettersAndPunctuation(syms.get(i), syms.get(i + 1)))) {
                        continue;
                    }
                    pairs.merge(syms.get(i) + "\u0000" + syms.get(i + 1), counts.get(s), Integer::sum);
                }
            }
            String best = null;
            int bestCount = 1;
            for (Map.Entry<String, Integer> e : pairs.entrySet()) {
                // Most frequent pair first; ties broken by the pair's text so the result is reproducible.
                if (e.getValue() > bestCount || (e.getValue() == bestCount && best != null && e.getKey().compareTo(best) < 0)) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            }
            if (best == null) {
                break;
            }
            String[] pair = best.split("\u0000");
            merges.add(pair);
            String joined = pair[0] + pair[1];
            for (List<String> syms : seqs) {
                for (int i = 0; i + 1 < syms.size(); i++) {
                    if (syms.get(i).equals(pair[0]) && syms.get(i + 1).equals(pair[1])) {
                        syms.set(i, joined);
                        syms.remove(i + 1);
                    }
                }
            }
        }
        if (phrases) {
            merges.addAll(phraseMerges(words, seqs));
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("<unk>", 0);
        vocab.put("<s>", 1);
        vocab.put("</s>", 2);
        for (int b = 0; b < 256; b++) {
            vocab.put(String.format("<0x%02X>", b), 3 + b);
        }
        int next = FIRST_PIECE;
        for (String c : chars) {
            vocab.putIfAbsent(c, next++);
        }
        for (String[] m : merges) {
            if (vocab.putIfAbsent(m[0] + m[1], next) == null) {
                next++;
            }
        }
        write(dir, vocab, merges);
        return next;
    }

    /**
     * One merge per colour and shape, {@code ▁colour} + {@code ▁shape}, ranked after every word merge, so it applies
     * to the two whole words and to nothing else. Both words must already be single pieces.
     */
    private static List<String[]> phraseMerges(Map<String, Integer> words, List<List<String>> seqs) {
        Map<String, Integer> pieces = new HashMap<>();
        int at = 0;
        for (String w : words.keySet()) {
            pieces.put(w, seqs.get(at++).size());
        }
        List<String> colours = java.util.Arrays.stream(Shape.Colour.values()).map(c -> SPACE + c.word()).toList();
        List<String> kinds = java.util.Arrays.stream(Shape.Kind.values()).map(k -> SPACE + k.word()).toList();
        for (String w : java.util.stream.Stream.concat(colours.stream(), kinds.stream()).toList()) {
            if (pieces.getOrDefault(w, 0) != 1) {
                throw new IllegalArgumentException("tokenizer phrases need '" + w.substring(1)
                        + "' as one piece: allow more merges");
            }
        }
        List<String[]> out = new ArrayList<>();
        for (String colour : colours) {
            for (String kind : kinds) {
                out.add(new String[]{colour, kind});
            }
        }
        return out;
    }

    private static boolean hasDigit(String s) {
        return has(s, Character::isDigit);
    }

    /** One side holds a letter and the other punctuation (the word-start mark is neither). */
    private static boolean mixesLettersAndPunctuation(String a, String b) {
        return (has(a, Character::isLetter) && has(b, WorldTokenizer::isPunctuation))
                || (has(a, WorldTokenizer::isPunctuation) && has(b, Character::isLetter));
    }

    private static boolean isPunctuation(int c) {
        return !Character.isLetterOrDigit(c) && c != SPACE.charAt(0);
    }

    private static boolean has(String s, java.util.function.IntPredicate p) {
        for (int i = 0; i < s.length(); i++) {
            if (p.test(s.charAt(i))) {
                return true;
            }
        }
        return false;
    }

    private static void write(Path dir, Map<String, Integer> vocab, List<String[]> merges) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < specials.length; i++) {
            ObjectNode a = added.addObject();
            a.put("id", i);
            a.put("content", specials[i]);
            a.put("single_word", false);
            a.put("lstrip", false);
            a.put("rstrip", false);
            a.put("normalized", false);
            a.put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode ns = normalizer.putArray("normalizers");
        ns.addObject().put("type", "Prepend").put("prepend", SPACE);
        ObjectNode replace = ns.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", SPACE);
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode st = post.putObject("special_tokens").putObject("<s>");
        st.put("id", "<s>");
        st.putArray("ids").add(1);
        st.putArray("tokens").add("<s>");
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "Sequence");
        ArrayNode ds = decoder.putArray("decoders");
        ObjectNode d1 = ds.addObject().put("type", "Replace");
        d1.putObject("pattern").put("String", SPACE);
        d1.put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", "<unk>");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("ignore_merges", false);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        ArrayNode m = model.putArray("merges");
        for (String[] mm : merges) {
            m.addArray().add(mm[0]).add(mm[1]);
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("tokenizer.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        ObjectNode cfg = json.createObjectNode();
        cfg.put("tokenizer_class", "LlamaTokenizer");
        cfg.put("add_bos_token", true);
        cfg.put("add_eos_token", false);
        cfg.put("bos_token", "<s>");
        cfg.put("eos_token", "</s>");
        cfg.put("unk_token", "<unk>");
        cfg.put("legacy", false);
        cfg.put("clean_up_tokenization_spaces", false);
        cfg.put("model_max_length", 2048);
        Files.writeString(dir.resolve("tokenizer_config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
        ObjectNode map = json.createObjectNode();
        map.put("bos_token", "<s>");
        map.put("eos_token", "</s>");
        map.put("unk_token", "<unk>");
        Files.writeString(dir.resolve("special_tokens_map.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(map));
    }
}
