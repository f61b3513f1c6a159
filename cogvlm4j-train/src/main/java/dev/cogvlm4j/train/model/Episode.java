package dev.cogvlm4j.train.model;

import java.util.List;

/**
 * One training example as the trainer packs it: an optional image and several token branches that all continue the
 * same prefix ({@code [bos]}, plus the image slots when there is an image). Attention is causal, so the prefix's
 * hidden states do not depend on what follows: the image goes through the tower and the decoder once, and every
 * question about it attends to that shared prefix. The loss gradients of all branches meet in the prefix's keys and
 * values.
 *
 * @param pixels   the image as the preprocessor normalizes it ({@code [3, S, S]}); null for text only; an empty
 *                 array for a blank image (the image slots are present and hold zero vectors, see {@link #blank})
 * @param branches the token branches
 * @param patches  per-patch labels when the episode trains the tower alone (no branches then), else null
 * @param slots    with blank image slots ({@code pixels} empty), what the slots hold instead of zeros: the rows
 *                 {@code [boi; patches; eoi]}, each the decoder's hidden size wide ({@link #slots}); else null
 */
public record Episode(float[] pixels, List<Branch> branches, PatchTargets patches, float[] slots) {
    /** An episode of token branches (text, or questions about an image). */
    public Episode(float[] pixels, List<Branch> branches) {
        this(pixels, branches, null, null);
    }

    /** An episode with patch targets (the tower's pretraining). */
    public Episode(float[] pixels, List<Branch> branches, PatchTargets patches) {
        this(pixels, branches, patches, null);
    }

    public Episode {
        if (slots != null && (pixels == null || pixels.length > 0)) {
            throw new IllegalArgumentException("slot rows stand in for an image: the episode must have blank image slots");
        }
    }

    /**
     * What the vision tower must see in each patch before it ever meets the language model: the kind and colour of
     * the object that covers most of the patch (or "none"), and that object's box. It stands in for the
     * pretraining of EVA2-CLIP, which the real CogVLM starts from; a tower trained from nothing through a frozen
     * language model gets one answer per question to learn from, here it gets one label per patch.
     *
     * @param kind   per patch, the object's kind {@code 0..KINDS-2} or {@code KINDS-1} for none
     * @param colour per patch, the object's colour {@code 0..COLOURS-2} or {@code COLOURS-1} for none
     * @param box    per patch, the object's box {@code (x0, y0, x1, y1)} as fractions of the image side (unused
     *               where there is no object)
     * @param places whether each box coordinate is also a class among {@link #PLACES} places (its first two digits
     *               on the 0-999 scale of the answers, {@code [[045,...]]} being place 4), so the tower learns the
     *               coordinate at the resolution the box's digits need, not only near it
     * @param slots  when not null, the rows the adapter must write into the image slots ({@code [boi; patches;
     *               eoi]}, see {@code SceneSlots}); the patches' rows are learned by squared error
     */
    public record PatchTargets(int[] kind, int[] colour, float[] box, boolean places, float[] slots) {
        /** Targets without places. */
        public PatchTargets(int[] kind, int[] colour, float[] box) {
            this(kind, colour, box, false, null);
        }

        /** Targets without slot rows. */
        public PatchTargets(int[] kind, int[] colour, float[] box, boolean places) {
            this(kind, colour, box, places, null);
        }

        /** Place classes of a box coordinate: {@code floor(coordinate × 100 / side)}, 0 to 99. */
        public static final int PLACES = 100;

        /** The place of box value {@code c} (coordinate {@code i % 4} of patch {@code i / 4}). */
        public int place(int c) {
            // The box holds pixel / side; the answers' three digits are floor(pixel × 1000 / side), and their first
            // two are floor(pixel × 100 / side). The epsilon keeps exact multiples (pixel 56 = 0.25) in their class.
            return Math.min(PLACES - 1, (int) Math.floor(box[c] * PLACES + 1e-4));
        }

        /** Kind classes: the world's three shapes and none. */
        public static final int KINDS = 4;
        /** Colour classes: the world's six colours and none. */
        public static final int COLOURS = 7;

        public PatchTargets {
            if (colour.length != kind.length || box.length != 4 * kind.length) {
                throw new IllegalArgumentException("patch targets need a kind, a colour and four box values per patch");
            }
            for (int i = 0; i < kind.length; i++) {
                if (kind[i] < 0 || kind[i] >= KINDS || colour[i] < 0 || colour[i] >= COLOURS) {
                    throw new IllegalArgumentException("patch " + i + ": kind " + kind[i] + " or colour " + colour[i]
                            + " is not a class (0.." + (KINDS - 1) + ", 0.." + (COLOURS - 1) + ")");
                }
            }
        }

        /** Whether patch {@code i} shows an object. */
        public boolean covered(int i) {
            return kind[i] != KINDS - 1;
        }
    }

    /**
     * A token branch.
     *
     * @param ids     text ids placed after the prefix
     * @param targets for each position, the id it must predict next, or -1 where there is no loss (the question)
     */
    public record Branch(int[] ids, int[] targets) {
        public Branch {
            if (ids.length != targets.length || ids.length == 0) {
                throw new IllegalArgumentException("a branch needs one target slot per id, and at least one id");
            }
        }

        /** Positions with a target. */
        public int targetCount() {
            int n = 0;
            for (int t : targets) {
                n += t >= 0 ? 1 : 0;
            }
            return n;
        }
    }

    /**
     * Text after blank image slots: the layout of an image episode ({@code [bos, boi, patches, eoi]} with the shared
     * image positions) whose slot rows are all zero. The language model is pretrained on these as well as on plain
     * text, so that when training the vision side begins from an adapter that outputs zeros, the frozen language
     * model is on ground it knows: the image slots are already part of what it attends to, and every update can
     * only teach them content.
     */
    public static Episode blank(List<Branch> branches) {
        return new Episode(new float[0], branches);
    }

    /**
     * Text after image slots that hold given rows instead of an image: how the language model learns, before any
     * image exists, to read a scene written into the slots (see {@code SceneSlots}).
     */
    public static Episode slots(float[] rows, List<Branch> branches) {
        return new Episode(new float[0], branches, null, rows);
    }

    /** Whether the prefix holds image slots (a real or a blank image). */
    public boolean hasImageSlots() {
        return pixels != null;
    }

    /** Whether the slots hold a real image for the tower. */
    public boolean hasPixels() {
        return pixels != null && pixels.length > 0;
    }

    /** Branches with at least one target: the answers a per-answer loss averages over. */
    public int answerCount() {
        return (int) branches.stream().filter(b -> b.targetCount() > 0).count();
    }

    /** Positions with a target, over all branches (patches, when the episode trains the tower alone). */
    public int targetCount() {
        return patches != null ? patches.kind().length : branches.stream().mapToInt(Branch::targetCount).sum();
    }
}
