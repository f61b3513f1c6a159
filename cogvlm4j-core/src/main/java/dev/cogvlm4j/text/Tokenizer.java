package dev.cogvlm4j.text;

import java.util.OptionalInt;

/**
 * Text to token ids and back, as the reference's HuggingFace tokenizers do it. {@link #encode} is
 * {@code encode(text, add_special_tokens=False)}: no BOS is added, but special-token text inside the string is
 * split out as its id, as HuggingFace does.
 */
public interface Tokenizer {

    /** Token ids of {@code text}. */
    int[] encode(String text);

    /** Text of {@code ids}; with {@code skipSpecialTokens} special tokens are left out. */
    default String decode(int[] ids, boolean skipSpecialTokens) {
        return decode(ids, ids.length, skipSpecialTokens, false);
    }

    /**
     * Text of {@code ids[0..n)}. With {@code holdIncomplete}, bytes at the end that begin a UTF-8 character not
     * yet complete are left out instead of replaced, so streamed output never shows a broken character.
     */
    String decode(int[] ids, int n, boolean skipSpecialTokens, boolean holdIncomplete);

    /** Number of ids the tokenizer can produce. */
    int vocabSize();

    /** The id of a token written as its vocabulary string (special tokens included). */
    OptionalInt tokenId(String token);

    /** True for control tokens such as BOS and EOS. */
    boolean isSpecial(int id);

    /** A short description: kind and source file. */
    String describe();

    /** An incremental decoder for streaming generated ids. */
    default TextStream stream(boolean skipSpecialTokens) {
        return new TextStream(this, skipSpecialTokens);
    }
}
