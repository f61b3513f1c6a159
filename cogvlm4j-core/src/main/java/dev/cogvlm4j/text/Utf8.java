package dev.cogvlm4j.text;

/**
 * Lossy UTF-8 decoding under the two conventions the reference tokenizers disagree on: SentencePiece replaces each
 * byte of a bad sequence with U+FFFD, Rust's {@code from_utf8_lossy} (Llama-3) replaces each maximal invalid
 * subsequence with one.
 */
final class Utf8 {
    private Utf8() {
    }

    /**
     * Decodes {@code b[0..len)}. With {@code holdIncomplete}, a valid-but-unfinished sequence at the very end is
     * left out instead of replaced.
     */
    static String decode(byte[] b, int len, boolean replacementPerByte, boolean holdIncomplete) {
        StringBuilder sb = new StringBuilder(len);
        int i = 0;
        while (i < len) {
            int b0 = b[i] & 0xff;
            if (b0 < 0x80) {
                sb.append((char) b0);
                i++;
                continue;
            }
            int need;
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 2;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 3;
                if (b0 == 0xE0) {
                    lo = 0xA0;
                } else if (b0 == 0xED) {
                    hi = 0x9F;
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 4;
                if (b0 == 0xF0) {
                    lo = 0x90;
                } else if (b0 == 0xF4) {
                    hi = 0x8F;
                }
            } else {
                sb.append('\uFFFD');
                i++;
                continue;
            }
            int j = 1;
            while (j < need && i + j < len) {
                int c = b[i + j] & 0xff;
                int l = j == 1 ? lo : 0x80;
                int h = j == 1 ? hi : 0xBF;
                if (c < l || c > h) {
                    break;
                }
                j++;
            }
            if (j == need) {
                int cp = b0 & (0xFF >> (need + 1));
                for (int k = 1; k < need; k++) {
                    cp = (cp << 6) | (b[i + k] & 0x3F);
                }
                sb.appendCodePoint(cp);
                i += need;
            } else if (i + j == len && holdIncomplete) {
                break;
            } else {
                int reps = replacementPerByte ? j : 1;
                for (int k = 0; k < reps; k++) {
                    sb.append('\uFFFD');
                }
                i += j;
            }
        }
        return sb.toString();
    }
}
