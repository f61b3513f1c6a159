package dev.cogvlm4j.text;

import dev.cogvlm4j.io.ModelFormatException;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The Llama-2 tokenizer of CogVLM and CogAgent (Vicuna-7B-v1.5's), behaving as transformers' slow
 * {@code LlamaTokenizer}: SentencePiece BPE with byte fallback, spaces written as U+2581, special-token text split
 * out first. Loaded from {@code tokenizer.model} (merges by piece score) or {@code tokenizer.json} (merges by rank);
 * both give the same ids.
 */
public final class SentencePieceTokenizer implements Tokenizer {
    static final String SPACE = "\u2581";

    /** SentencePiece piece types. */
    enum Type { NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE }

    private final String source;
    private final String[] pieces;
    private final Type[] types;
    private final Map<String, Integer> ids = new HashMap<>();
    private final BpeMerger.Priority priority;
    private final int[] byteIds = new int[256];
    private final int unkId;
    private final SpecialTokenSplitter splitter;
    private final Map<String, Integer> specials = new LinkedHashMap<>();
    /** transformers' {@code legacy} flag: false (the fixture and Llama-2's config) changes text after special tokens. */
    private final boolean legacy;

    private SentencePieceTokenizer(String source, String[] pieces, Type[] types, BpeMerger.Priority priority,
                                   boolean legacy) {
        this.source = source;
        this.pieces = pieces;
        this.types = types;
        this.legacy = legacy;
        java.util.Arrays.fill(byteIds, -1);
        int unk = 0;
        for (int i = 0; i < pieces.length; i++) {
            ids.putIfAbsent(pieces[i], i);
            if (types[i] == Type.BYTE) {
                byteIds[Integer.parseInt(pieces[i].substring(3, 5), 16)] = i;
            } else if (types[i] == Type.UNKNOWN) {
                unk = i;
                specials.put(pieces[i], i);
            } else if (types[i] == Type.CONTROL) {
                specials.put(pieces[i], i);
            }
        }
        this.unkId = unk;
        this.priority = priority != null ? priority : this::scorePriority;
        this.splitter = new SpecialTokenSplitter(specials);
        for (int b = 0; b < 256; b++) {
            if (byteIds[b] < 0) {
                throw new ModelFormatException(source + ": no byte-fallback piece <0x" + String.format("%02X", b) + ">");
            }
        }
    }

    private float[] scores;

    private double scorePriority(String left, String right) {
        Integer id = ids.get(left + right);
        if (id == null || (types[id] != Type.NORMAL && types[id] != Type.USER_DEFINED)) {
            return Double.NaN;
        }
        return -scores[id];
    }

    /** Reads the SentencePiece model protobuf ({@code tokenizer.model}). */
    public static SentencePieceTokenizer fromModelProto(byte[] proto, String source, boolean legacy) {
        List<String> pieces = new ArrayList<>();
        List<Float> scoreList = new ArrayList<>();
        List<Type> typeList = new ArrayList<>();
        Proto p = new Proto(proto, 0, proto.length, source);
        while (p.more()) {
            int tag = p.tag();
            if ((tag >>> 3) == 1 && (tag & 7) == 2) {
                Proto sp = p.message();
                String piece = null;
                float score = 0;
                int type = 1;
                while (sp.more()) {
                    int t = sp.tag();
                    switch (t >>> 3) {
                        case 1 -> piece = sp.string();
                        case 2 -> score = sp.float32();
                        case 3 -> type = (int) sp.varint();
                        default -> sp.skip(t);
                    }
                }
                if (piece == null || type < 1 || type > 6) {
                    throw new ModelFormatException(source + ": malformed piece #" + pieces.size());
                }
                pieces.add(piece);
                scoreList.add(score);
                typeList.add(Type.values()[type - 1]);
            } else if ((tag >>> 3) == 2 && (tag & 7) == 2) {
                Proto trainer = p.message();
                while (trainer.more()) {
                    int t = trainer.tag();
                    if ((t >>> 3) == 3 && (t & 7) == 0) {
                        long modelType = trainer.varint();
                        if (modelType != 2) {
                            throw new ModelFormatException(source + ": SentencePiece model type " + modelType
                                    + " is not BPE (Llama's tokenizer is BPE)");
                        }
                    } else {
                        trainer.skip(t);
                    }
                }
            } else {
                p.skip(tag);
            }
        }
        if (pieces.isEmpty()) {
            throw new ModelFormatException(source + ": no pieces (not a SentencePiece model?)");
        }
        SentencePieceTokenizer tok = new SentencePieceTokenizer(source, pieces.toArray(new String[0]),
                typeList.toArray(new Type[0]), null, legacy);
        tok.scores = new float[scoreList.size()];
        for (int i = 0; i < tok.scores.length; i++) {
            tok.scores[i] = scoreList.get(i);
        }
        return tok;
    }

    /** Builds from the vocab, merges and added tokens of a Llama-layout {@code tokenizer.json}. */
    static SentencePieceTokenizer fromTokenizerJson(Map<String, Integer> vocab, List<String[]> merges,
                                                    Map<String, Integer> added, String source, boolean legacy) {
        int size = 0;
        for (int id : vocab.values()) {
            size = Math.max(size, id + 1);
        }
        for (int id : added.values()) {
            size = Math.max(size, id + 1);
        }
        String[] pieces = new String[size];
        Type[] types = new Type[size];
        vocab.forEach((s, id) -> {
            pieces[id] = s;
            types[id] = s.length() == 6 && s.startsWith("<0x") && s.endsWith(">") ? Type.BYTE : Type.NORMAL;
        });
        added.forEach((s, id) -> {
            pieces[id] = s;
            types[id] = s.equals("<unk>") ? Type.UNKNOWN : Type.CONTROL;
        });
        for (int i = 0; i < size; i++) {
            if (pieces[i] == null) {
                throw new ModelFormatException(source + ": vocab has no token with id " + i);
            }
        }
        Map<String, Integer> rank = new HashMap<>(merges.size() * 2);
        for (int i = 0; i < merges.size(); i++) {
            rank.putIfAbsent(merges.get(i)[0] + " " + merges.get(i)[1], i);
        }
        BpeMerger.Priority pr = (l, r) -> {
            Integer k = rank.get(l + " " + r);
            return k == null ? Double.NaN : k;
        };
        return new SentencePieceTokenizer(source, pieces, types, pr, legacy);
    }

    @Override
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        List<Integer> out = new ArrayList<>();
        if (legacy) {
            // Every segment between special tokens gets SentencePiece's dummy prefix.
            for (SpecialTokenSplitter.Segment s : splitter.split(text)) {
                if (s.isSpecial()) {
                    out.add(s.specialId());
                } else {
                    encodeSegment(SPACE + s.text(), out);
                }
            }
        } else {
            // transformers (legacy=False): one U+2581 before the whole text, none after special tokens.
            String t = SPACE + text.replace(SPACE, " ");
            for (SpecialTokenSplitter.Segment s : splitter.split(t)) {
                if (s.isSpecial()) {
                    out.add(s.specialId());
                } else {
                    encodeSegment(s.text(), out);
                }
            }
            if (out.size() > 1 && pieces[out.get(0)].equals(SPACE) && isSpecial(out.get(1))
                    && types[out.get(0)] == Type.NORMAL) {
                out.remove(0);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    private void encodeSegment(String segment, List<Integer> out) {
        if (segment.isEmpty()) {
            return;
        }
        String normalized = segment.replace(" ", SPACE);
        for (String sym : BpeMerger.merge(BpeMerger.codePoints(normalized), priority)) {
            Integer id = ids.get(sym);
            if (id != null && (types[id] == Type.NORMAL || types[id] == Type.USER_DEFINED)) {
                out.add(id);
            } else {
                for (byte b : sym.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
                    out.add(byteIds[b & 0xff]);
                }
            }
        }
    }

    @Override
    public String decode(int[] idsIn, int n, boolean skipSpecialTokens, boolean holdIncomplete) {
        List<Integer> tokens = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int id = idsIn[i];
            if (id < 0 || id >= pieces.length) {
                throw new IllegalArgumentException("token id " + id + " is outside the vocabulary (0.." + (pieces.length - 1) + ")");
            }
            if (skipSpecialTokens && isSpecial(id)) {
                continue;
            }
            tokens.add(id);
        }
        if (tokens.isEmpty()) {
            return "";
        }
        // transformers' LlamaTokenizer.convert_tokens_to_string, piece by piece.
        StringBuilder out = new StringBuilder();
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        boolean prevSpecial = false;
        for (int i = 0; i < tokens.size(); i++) {
            int id = tokens.get(i);
            String piece = pieces[id];
            if (i == 0 && piece.startsWith(SPACE)) {
                piece = piece.substring(1);
            }
            if (isSpecial(id)) {
                if (!prevSpecial && i != 0 && legacy) {
                    out.append(' ');
                }
                flush(run, out, false);
                out.append(piece);
                prevSpecial = true;
            } else {
                if (prevSpecial && i == 1 && !piece.startsWith(SPACE)) {
                    out.append(' ');
                }
                if (types[id] == Type.BYTE) {
                    run.write(Integer.parseInt(piece.substring(3, 5), 16));
                } else {
                    byte[] b = piece.replace(SPACE, " ").getBytes(java.nio.charset.StandardCharsets.UTF_8);
                    run.write(b, 0, b.length);
                }
                prevSpecial = false;
            }
        }
        flush(run, out, holdIncomplete);
        return out.toString();
    }

    private static void flush(ByteArrayOutputStream run, StringBuilder out, boolean hold) {
        if (run.size() > 0) {
            byte[] b = run.toByteArray();
            out.append(Utf8.decode(b, b.length, true, hold));
            run.reset();
        }
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public OptionalInt tokenId(String token) {
        Integer id = ids.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public boolean isSpecial(int id) {
        return id >= 0 && id < types.length && (types[id] == Type.CONTROL || types[id] == Type.UNKNOWN);
    }

    /** The piece string of an id. */
    public String piece(int id) {
        return pieces[id];
    }

    @Override
    public String describe() {
        return "Llama-2 SentencePiece BPE (" + pieces.length + " pieces, " + source + ")";
    }

    /** The few protobuf wire-format reads a SentencePiece model needs. */
    private static final class Proto {
        private final byte[] b;
        private int pos;
        private final int end;
        private final String source;

        Proto(byte[] b, int pos, int end, String source) {
            this.b = b;
            this.pos = pos;
            this.end = end;
            this.source = source;
        }

        boolean more() {
            return pos < end;
        }

        int tag() {
            return (int) varint();
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                if (pos >= end) {
                    throw truncated();
                }
                int x = b[pos++] & 0xff;
                v |= (long) (x & 0x7f) << shift;
                if (x < 0x80) {
                    return v;
                }
            }
            throw new ModelFormatException(source + ": malformed varint");
        }

        Proto message() {
            int len = length();
            Proto p = new Proto(b, pos, pos + len, source);
            pos += len;
            return p;
        }

        String string() {
            int len = length();
            String s = new String(b, pos, len, java.nio.charset.StandardCharsets.UTF_8);
            pos += len;
            return s;
        }

        float float32() {
            if (pos + 4 > end) {
                throw truncated();
            }
            int bits = (b[pos] & 0xff) | (b[pos + 1] & 0xff) << 8 | (b[pos + 2] & 0xff) << 16 | (b[pos + 3] & 0xff) << 24;
            pos += 4;
            return Float.intBitsToFloat(bits);
        }

        private int length() {
            long len = varint();
            if (len < 0 || len > end - pos) {
                throw truncated();
            }
            return (int) len;
        }

        void skip(int tag) {
            switch (tag & 7) {
                case 0 -> varint();
                case 1 -> advance(8);
                case 2 -> advance(length());
                case 5 -> advance(4);
                default -> throw new ModelFormatException(source + ": unsupported protobuf wire type " + (tag & 7));
            }
        }

        private void advance(int n) {
            if (n > end - pos) {
                throw truncated();
            }
            pos += n;
        }

        private ModelFormatException truncated() {
            return new ModelFormatException(source + ": truncated or corrupt protobuf");
        }
    }
}
