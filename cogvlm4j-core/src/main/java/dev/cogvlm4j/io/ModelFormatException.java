package dev.cogvlm4j.io;

/** A checkpoint, configuration or tokenizer file that cannot be used, with a message naming the file and the fault. */
public class ModelFormatException extends RuntimeException {
    /** Creates the exception with a one-line message a user can act on. */
    public ModelFormatException(String message) {
        super(message);
    }

    /** Creates the exception with a one-line message and the underlying cause. */
    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
