package dev.cogvlm4j.vision;

/** An image that cannot be decoded or is refused (unknown format, corrupt, truncated, too many pixels). */
public class ImageFormatException extends RuntimeException {
    /** Creates the exception with a one-line message. */
    public ImageFormatException(String message) {
        super(message);
    }
}
