package dev.cogvlm4j.text;

import java.nio.charset.StandardCharsets;
import java.util.OptionalInt;

/**
 * The fixtures' stand-in tokenizer: id = UTF-8 byte + 3, with 0, 1 and 2 as pad, bos and eos. The tiny reference
 * checkpoints were built with it, so it lets their prompts be typed as text ({@code --tokenizer bytes}).
 */
public final class ByteTokenizer implements Tokenizer {
    private static final String[] SPECIAL = {"<pad>", "<s>", "</s>"};

    @Override
    public int[] encode(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] out = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (b[i] & 0xff) + 3;
        }
        return out;
    }

    @Override
    public String decode(int[] ids, int n, boolean skipSpecialTokens, boolean holdIncomplete) {
        StringBuilder sb = new StringBuilder();
        byte[] run = new byte[n];
        int r = 0;
        for (int i = 0; i < n; i++) {
            int id = ids[i];
            if (id < 3) {
                sb.append(Utf8.decode(run, r, false, false));
                r = 0;
                if (!skipSpecialTokens && id >= 0) {
                    sb.append(SPECIAL[id]);
                }
            } else if (id < 259) {
                run[r++] = (byte) (id - 3);
            } else {
                sb.append(Utf8.decode(run, r, false, false));
                r = 0;
                sb.append('\uFFFD');
            }
        }
        sb.append(Utf8.decode(run, r, false, holdIncomplete));
        return sb.toString();
    }

    @Override
    public int vocabSize() {
        return 259;
    }

    @Override
    public OptionalInt tokenId(String token) {
        for (int i = 0; i < SPECIAL.length; i++) {
            if (SPECIAL[i].equals(token)) {
                return OptionalInt.of(i);
            }
        }
        return OptionalInt.empty();
    }

    @Override
    public boolean isSpecial(int id) {
        return id >= 0 && id < 3;
    }

    @Override
    public String describe() {
        return "byte tokenizer (id = UTF-8 byte + 3; the reference fixtures' test tokenizer)";
    }
}
