package dev.cogvlm4j;

import dev.cogvlm4j.io.ModelFormatException;
import dev.cogvlm4j.model.CogVlmConfig;
import dev.cogvlm4j.model.CogVlmModel;
import dev.cogvlm4j.model.Family;
import dev.cogvlm4j.model.GenerationOptions;
import dev.cogvlm4j.model.Generator;
import dev.cogvlm4j.model.ImageFeatures;
import dev.cogvlm4j.model.ModelInput;
import dev.cogvlm4j.model.PrefixCache;
import dev.cogvlm4j.model.Session;
import dev.cogvlm4j.text.PromptTemplate;
import dev.cogvlm4j.text.TextStream;
import dev.cogvlm4j.text.Tokenizer;
import dev.cogvlm4j.text.Tokenizers;
import dev.cogvlm4j.vision.ImageLoader;
import dev.cogvlm4j.vision.RgbImage;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The library entry point: a model folder, its tokenizer and an image loader behind one object.
 *
 * <pre>{@code
 * try (CogVlm vlm = CogVlm.load(Path.of("cogvlm-chat-hf"), CogVlm.Options.defaults().withTokenizer(Path.of("vicuna")))) {
 *     RgbImage image = vlm.loadImage(Path.of("photo.jpg"));
 *     Answer a = vlm.ask(Question.of("What is in the image?", image), GenerationOptions.defaults(), System.out::print);
 * }
 * }</pre>
 */
public final class CogVlm implements AutoCloseable {
    /**
     * How to load a model.
     *
     * @param tokenizer      a tokenizer folder or file to use instead of the model folder's (or {@code bytes})
     * @param maxImagePixels images with more pixels are refused
     * @param cacheDir       folder where image features persist across processes, or null
     */
    public record Options(Path tokenizer, long maxImagePixels, Path cacheDir) {
        /** The model folder's own tokenizer, the default pixel limit, no cache folder. */
        public static Options defaults() {
            return new Options(null, ImageLoader.DEFAULT_MAX_PIXELS, null);
        }

        /** A copy with another tokenizer location. */
        public Options withTokenizer(Path path) {
            return new Options(path, maxImagePixels, cacheDir);
        }

        /** A copy that persists image features in {@code dir} across processes. */
        public Options withCacheDir(Path dir) {
            return new Options(tokenizer, maxImagePixels, dir);
        }
    }

    private final Path dir;
    private final CogVlmModel model;
    private final Tokenizer tokenizer;
    private final ImageLoader images;
    private final Set<Integer> stopIds = new HashSet<>();
    private final PrefixCache cache;

    private CogVlm(Path dir, CogVlmModel model, Tokenizer tokenizer, ImageLoader images, Path cacheDir) {
        this.dir = dir;
        this.model = model;
        this.tokenizer = tokenizer;
        this.images = images;
        this.cache = new PrefixCache(model, cacheDir);
        for (int id : model.config().eosIds()) {
            stopIds.add(id);
        }
        if (tokenizer != null && model.config().family() == Family.COGVLM2) {
            tokenizer.tokenId("<|eot_id|>").ifPresent(stopIds::add);
        }
    }

    /** Loads a model folder with default options. */
    public static CogVlm load(Path dir) {
        return load(dir, Options.defaults());
    }

    /** Loads a model folder; the tokenizer comes from the options, else from the folder, else there is none. */
    public static CogVlm load(Path dir, Options options) {
        CogVlmModel model = CogVlmModel.load(dir);
        try {
            Tokenizer tok = null;
            var ckpt = model.checkpoint();
            if (options.tokenizer() != null) {
                tok = Tokenizers.load(options.tokenizer());
            } else if (ckpt.isGguf()) {
                tok = Tokenizers.fromFiles(name -> ckpt.file(name).orElse(null));
            } else if (Tokenizers.present(dir)) {
                tok = Tokenizers.load(dir);
            }
            if (tok != null && !(tok instanceof dev.cogvlm4j.text.ByteTokenizer)
                    && tok.vocabSize() > model.config().vocabSize()) {
                throw new ModelFormatException("the tokenizer has " + tok.vocabSize() + " tokens but the model's vocabulary has "
                        + model.config().vocabSize() + ": wrong tokenizer for this model?");
            }
            return new CogVlm(dir, model, tok, new ImageLoader(options.maxImagePixels()), options.cacheDir());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The model. */
    public CogVlmModel model() {
        return model;
    }

    /** The configuration. */
    public CogVlmConfig config() {
        return model.config();
    }

    /** The tokenizer, when one was found. */
    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** The tokenizer, or an error that says where one is expected. */
    public Tokenizer requireTokenizer() {
        if (tokenizer != null) {
            return tokenizer;
        }
        String hint = config().family() == Family.COGVLM2
                ? "CogVLM2 checkpoints ship tokenizer.json; is the folder complete?"
                : "CogVLM and CogAgent checkpoints ship none: the authors use lmsys/vicuna-7b-v1.5's Llama-2 tokenizer";
        throw new ModelFormatException(dir.getFileName() + " has no tokenizer (tokenizer.model or tokenizer.json). " + hint
                + ". Pass --tokenizer PATH (a folder or file).");
    }

    /** Decodes an image file with this model's pixel limit. */
    public RgbImage loadImage(Path file) {
        return images.load(file);
    }

    /** Decodes image bytes with this model's pixel limit. */
    public RgbImage decodeImage(byte[] data, String name) {
        return images.decode(data, name);
    }

    /** The template a question uses: its own, or the model's {@code template_version}. */
    public PromptTemplate template(String name) {
        return PromptTemplate.of(name != null ? name : config().templateVersion(),
                config().family() == Family.COGAGENT);
    }

    /** The prompt text a question turns into. */
    public String promptText(Question q) {
        return template(q.template()).format(q.history(), q.prompt(), config().family() == Family.COGAGENT);
    }

    /** Lays out a question's tokens as {@code build_conversation_input_ids} does. */
    public ModelInput input(Question q) {
        model.requireImageIfNeeded(q.image() != null);
        int[] text = requireTokenizer().encode(promptText(q));
        ModelInput input = ModelInput.of(config(), text, q.image() != null ? config().imageTokens() : 0);
        checkContext(input);
        return input;
    }

    /** Refuses an input whose positions do not fit the model's context, before any work is done. */
    public void checkContext(ModelInput input) {
        if (input.length() == 0) {
            throw new IllegalArgumentException("the input is empty");
        }
        int positions = input.positionIds()[input.length() - 1] + 1;
        if (positions >= config().maxPositions()) {
            throw new IllegalArgumentException("the prompt needs " + positions + " positions but the model's context is "
                    + config().maxPositions() + " (shorten the prompt or history)");
        }
    }

    /** Answers a question, streaming settled text to {@code onText} (may be null). */
    public Answer ask(Question q, GenerationOptions options, Consumer<String> onText) {
        return generate(input(q), q.image(), options, onText);
    }

    /**
     * Runs a prepared input (with its image, or null) and generates. Text is streamed to {@code onText} when a
     * tokenizer is loaded.
     */
    public Answer generate(ModelInput input, RgbImage image, GenerationOptions options, Consumer<String> onText) {
        return generate(input, image, options, onText, () -> false);
    }

    /** Answers a question; generation stops early once {@code cancelled} turns true (a client went away, a timeout). */
    public Answer ask(Question q, GenerationOptions options, Consumer<String> onText, java.util.function.BooleanSupplier cancelled) {
        return generate(input(q), q.image(), options, onText, cancelled);
    }

    /** As {@link #generate(ModelInput, RgbImage, GenerationOptions, Consumer)}, stopping once {@code cancelled}. */
    public Answer generate(ModelInput input, RgbImage image, GenerationOptions options, Consumer<String> onText,
                           java.util.function.BooleanSupplier cancelled) {
        checkContext(input);
        if (input.imageSlots() > 0 && image == null) {
            throw new IllegalArgumentException("token_type_ids mark image slots but no image was given");
        }
        long t0 = System.nanoTime();
        String imageKey = input.imageSlots() > 0 ? PrefixCache.imageKey(image) : null;
        ImageFeatures features = imageKey != null ? cache.features(image, imageKey) : null;
        long t1 = System.nanoTime();
        // A follow-up about the same image continues a parked session from the tokens it already holds.
        PrefixCache.Reuse reuse = cache.take(input, imageKey);
        Session session;
        float[] logits;
        int reused = 0;
        if (reuse != null) {
            session = reuse.session();
            reused = reuse.shared();
            logits = session.extend(input, reused, features, false);
        } else {
            session = model.newSession();
            logits = session.prefill(input, features, false);
        }
        long t2 = System.nanoTime();
        boolean skipSpecial = config().family() == Family.COGVLM2;
        TextStream stream = tokenizer != null && onText != null ? tokenizer.stream(skipSpecial) : null;
        boolean[] eosSeen = {false};
        boolean[] stopped = {false};
        int[] ids = Generator.generate(session, input.inputIds(), logits, options, id -> {
            boolean stop = stopIds.contains(id);
            stopped[0] |= stop;
            return stop;
        }, id -> {
            // With --ignore-eos the CogVLM demo still cuts the text at the first </s>; the stream does the same.
            if (!skipSpecial && stopIds.contains(id)) {
                eosSeen[0] = true;
            }
            if (stream != null && !eosSeen[0]) {
                String piece = stream.push(id);
                if (!piece.isEmpty()) {
                    onText.accept(piece);
                }
            }
            return !cancelled.getAsBoolean();
        });
        if (stream != null && !eosSeen[0]) {
            String rest = stream.finish();
            if (!rest.isEmpty()) {
                onText.accept(rest);
            }
        }
        long t3 = System.nanoTime();
        int[] held = java.util.Arrays.copyOf(input.inputIds(), Math.min(session.length(), input.length() + ids.length));
        System.arraycopy(ids, 0, held, input.length(), held.length - input.length());
        cache.park(session, held, imageKey);
        return new Answer(tokenizer != null ? decodeAnswer(ids) : null, ids, input.length(), stopped[0],
                (t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9, reused);
    }

    /**
     * The reply text as the reference demos produce it: CogVLM and CogAgent decode everything and cut at
     * {@code </s>}; CogVLM2 decodes skipping special tokens, with the tokenizer's clean-up of spaces.
     */
    public String decodeAnswer(int[] ids) {
        Tokenizer tok = requireTokenizer();
        if (config().family() == Family.COGVLM2) {
            return tok.decode(ids, true);
        }
        String text = tok.decode(ids, false);
        int cut = text.indexOf("</s>");
        return cut >= 0 ? text.substring(0, cut) : text;
    }

    /** Unmaps the model. */
    @Override
    public void close() {
        model.close();
    }
}
