package dev.cogvlm4j.text;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * CogVLM2's Llama-3 tokenizer, behaving as the Rust {@code tokenizers} library behind
 * {@code PreTrainedTokenizerFast}: special tokens split out, the Llama-3 regex pre-tokenizer, GPT-2's byte-to-character
 * map, BPE by merge rank with {@code ignore_merges}, and HuggingFace's optional clean-up of spaces on decode.
 */
public final class ByteLevelBpeTokenizer implements Tokenizer {
    /**
     * The Llama-3 split pattern in Java syntax. {@code \s} is spelled {@code \p{IsWhite_Space}} because Java's
     * {@code \s} is ASCII-only, and the flag that would widen it also makes {@code (?i)} Unicode-aware, which the
     * reference is not.
     */
    static final Pattern SPLIT = Pattern.compile(
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
                    + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"
                    + "|\\p{N}{1,3}"
                    + "| ?[^\\p{IsWhite_Space}\\p{L}\\p{N}]+[\\r\\n]*"
                    + "|\\p{IsWhite_Space}*[\\r\\n]+"
                    + "|\\p{IsWhite_Space}+(?![^\\p{IsWhite_Space}])"
                    + "|\\p{IsWhite_Space}+");

    /** What follows the space in each of HuggingFace's {@code clean_up_tokenization} replacements. */
    static final String[] CLEANUP_TAILS = {".", "?", "!", ",", "' ", "n't", "'m", "'s", "'ve", "'re"};

    private static final char[] BYTE_TO_CHAR = new char[256];
    private static final Map<Character, Integer> CHAR_TO_BYTE = new HashMap<>();

    static {
        int extra = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char) b : (char) (256 + extra++);
            BYTE_TO_CHAR[b] = c;
            CHAR_TO_BYTE.put(c, b);
        }
    }

    private final String source;
    private final Map<String, Integer> vocab;
    private final String[] tokens;
    private final boolean[] special;
    private final Map<String, Integer> mergeRank;
    private final boolean ignoreMerges;
    private final boolean cleanUpSpaces;
    private final SpecialTokenSplitter splitter;

    ByteLevelBpeTokenizer(Map<String, Integer> vocab, List<String[]> merges, Map<String, Integer> added,
                          Map<String, Boolean> addedSpecial, boolean ignoreMerges, boolean cleanUpSpaces,
                          String source) {
        this.source = source;
        this.vocab = new HashMap<>(vocab);
        int size = 0;
        for (int id : vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (int id : added.values()) {
            size = Math.max(size, id + 1);
        }
        tokens = new String[size];
        special = new boolean[size];
        vocab.forEach((s, id) -> tokens[id] = s);
        added.forEach((s, id) -> {
            tokens[id] = s;
            special[id] = addedSpecial.getOrDefault(s, true);
            this.vocab.putIfAbsent(s, id);
        });
        mergeRank = new HashMap<>(merges.size() * 2);
        for (int i = 0; i < merges.size(); i++) {
            mergeRank.putIfAbsent(merges.get(i)[0] + " " + merges.get(i)[1], i);
        }
        this.ignoreMerges = ignoreMerges;
        this.cleanUpSpaces = cleanUpSpaces;
        this.splitter = new SpecialTokenSplitter(added);
    }

    /** True when decode applies HuggingFace's {@code clean_up_tokenization}. */
    public boolean cleansUpSpaces() {
        return cleanUpSpaces;
    }

    @Override
    public int[] encode(String text) {
        List<Integer> out = new ArrayList<>();
        for (SpecialTokenSplitter.Segment s : splitter.split(text)) {
            if (s.isSpecial()) {
                out.add(s.specialId());
                continue;
            }
            Matcher m = SPLIT.matcher(s.text());
            while (m.find()) {
                encodeWord(m.group(), out);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private void encodeWord(String word, List<Integer> out) {
        byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
        StringBuilder mapped = new StringBuilder(bytes.length);
        List<String> symbols = new ArrayList<>(bytes.length);
        for (byte b : bytes) {
            char c = BYTE_TO_CHAR[b & 0xff];
            mapped.append(c);
            symbols.add(String.valueOf(c));
        }
        Integer whole = ignoreMerges ? vocab.get(mapped.toString()) : null;
        if (whole != null) {
            out.add(whole);
            return;
        }
        for (String sym : BpeMerger.merge(symbols, (l, r) -> {
            Integer k = mergeRank.get(l + " " + r);
            return k == null ? Double.NaN : k;
        })) {
            Integer id = vocab.get(sym);
            if (id == null) {
                throw new IllegalStateException(source + ": BPE produced '" + sym + "', which is not in the vocab");
            }
            out.add(id);
        }
    }

    @Override
    public String decode(int[] ids, int n, boolean skipSpecialTokens, boolean holdIncomplete) {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < n; i++) {
            int id = ids[i];
            if (id < 0 || id >= tokens.length || tokens[id] == null) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (tokens.length - 1) + ")");
            }
            if (skipSpecialTokens && special[id]) {
                continue;
            }
            String t = tokens[id];
            byte[] mapped = new byte[t.length()];
            boolean ok = true;
            for (int j = 0; j < t.length(); j++) {
                Integer b = CHAR_TO_BYTE.get(t.charAt(j));
                if (b == null) {
                    ok = false;
                    break;
                }
                mapped[j] = (byte) (int) b;
            }
            // A token with a character outside the byte map is emitted as its own UTF-8, as tokenizers-rs does.
            byte[] b = ok ? mapped : t.getBytes(StandardCharsets.UTF_8);
            bytes.write(b, 0, b.length);
        }
        byte[] all = bytes.toByteArray();
        String text = Utf8.decode(all, all.length, false, holdIncomplete);
        return cleanUpSpaces ? cleanUp(text) : text;
    }

    /** transformers' {@code clean_up_tokenization}, replacements in its order. */
    static String cleanUp(String s) {
        return s.replace(" .", ".").replace(" ?", "?").replace(" !", "!").replace(" ,", ",")
                .replace(" ' ", "'").replace(" n't", "n't").replace(" 'm", "'m").replace(" 's", "'s")
                .replace(" 've", "'ve").replace(" 're", "'re");
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    /** A copy that does or does not clean up spaces on decode. */
    public ByteLevelBpeTokenizer withCleanUp(boolean cleanUp) {
        return cleanUp == cleanUpSpaces ? this : new ByteLevelBpeTokenizer(this, cleanUp);
    }

    private ByteLevelBpeTokenizer(ByteLevelBpeTokenizer o, boolean cleanUp) {
        source = o.source;
        vocab = o.vocab;
        tokens = o.tokens;
        special = o.special;
        mergeRank = o.mergeRank;
        ignoreMerges = o.ignoreMerges;
        cleanUpSpaces = cleanUp;
        splitter = o.splitter;
    }

    @Override
    public String describe() {
        return "Llama-3 byte-level BPE (" + tokens.length + " tokens, " + source + ")";
    }
}
