package dev.cogvlm4j.cli;

import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.vision.ImageLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import picocli.CommandLine.Option;

/** Where the model and tokenizer come from. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "DIR",
            description = "HuggingFace model folder (config.json + safetensors) or a GGUF file from quantize. "
                    + "Default: the bundled model.")
    Path model;

    @Option(names = "--tokenizer", paramLabel = "PATH",
            description = "Tokenizer folder or file (tokenizer.model / tokenizer.json), or 'bytes' for the fixtures' "
                    + "byte tokenizer. Default: the model folder's.")
    Path tokenizer;

    @Option(names = "--max-image-pixels", paramLabel = "N", defaultValue = "" + ImageLoader.DEFAULT_MAX_PIXELS,
            description = "Refuse images with more pixels than this (default: ${DEFAULT-VALUE}).")
    long maxImagePixels;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Keep image features here so later runs skip the vision tower for the same image and model.")
    Path cacheDir;

    /** The model folder: the option, else the bundled default next to the launcher. */
    Path modelDir() {
        if (model != null) {
            return model;
        }
        String prop = System.getProperty("cogvlm4j.defaultModel");
        if (prop != null && Files.isDirectory(Paths.get(prop))) {
            return Paths.get(prop);
        }
        throw new Main.UserException("no --model given and no bundled default model found (run through bin/cogvlm4j)");
    }

    CogVlm load() {
        Path dir = modelDir();
        if (!Files.exists(dir)) {
            throw new Main.UserException(dir + ": no such model folder or GGUF file");
        }
        if (maxImagePixels <= 0) {
            throw new Main.UserException("--max-image-pixels must be positive");
        }
        return CogVlm.load(dir, new CogVlm.Options(tokenizer, maxImagePixels, cacheDir));
    }
}
