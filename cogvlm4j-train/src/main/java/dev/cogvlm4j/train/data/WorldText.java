package dev.cogvlm4j.train.data;

import dev.cogvlm4j.text.PromptTemplate;
import dev.cogvlm4j.train.world.Shape;
import dev.cogvlm4j.train.world.ShapesWorld;
import java.util.ArrayList;
import java.util.List;

/** The world's text: what the language model reads before it ever sees an image. */
public final class WorldText {
    private WorldText() {
    }

    /** The chat template's prompt for a question, exactly as inference writes it. */
    public static String prompt(String question) {
        return PromptTemplate.CHAT.format(List.of(), question, false);
    }

    /**
     * Reading comprehension: the scene described in words (with boxes), then one of its questions and the answer.
     * The language model learns here to look back at the objects a question is about, the skill the visual experts
     * later reuse when the objects are image tokens instead of words.
     */
    public static String reading(ShapesWorld.Scene scene, ShapesWorld.QA qa) {
        return readingPrompt(scene, qa.question()) + " " + qa.answer();
    }

    /** The scene in words (its caption with boxes), then the chat prompt for {@code question}: a reading exercise. */
    public static String readingPrompt(ShapesWorld.Scene scene, String question) {
        return ShapesWorld.caption(scene, true) + " " + prompt(question);
    }

    /**
     * The scene as a listing, left to right: each shape's word, then its colour's, then its box
     * ({@code circle red [[...]], square blue [[...]].}). Here a question about a shape finds its colour right
     * after the shape's word, as a question about a colour finds the shape after the colour's word in a caption:
     * both lookups become "find the word, read the next one", the one an induction head does.
     */
    public static String listing(ShapesWorld.Scene scene) {
        StringBuilder sb = new StringBuilder();
        List<Shape> shapes = scene.leftToRight();
        for (int i = 0; i < shapes.size(); i++) {
            Shape s = shapes.get(i);
            sb.append(i == 0 ? "" : ", ").append(s.kind().word()).append(' ').append(s.colour().word()).append(' ')
                    .append(s.box999());
        }
        return sb.append('.').toString();
    }

    /** The scene as a listing ({@link #listing}), then the chat prompt for {@code question}. */
    public static String listingPrompt(ShapesWorld.Scene scene, String question) {
        return listing(scene) + " " + prompt(question);
    }

    /** Every question of the scene as a chat transcript, plus its two captions as plain sentences. */
    public static List<String> sentences(ShapesWorld.Scene scene) {
        List<String> out = new ArrayList<>();
        for (ShapesWorld.QA qa : ShapesWorld.questions(scene)) {
            out.add(prompt(qa.question()) + " " + qa.answer());
        }
        out.add(ShapesWorld.caption(scene, false));
        out.add(ShapesWorld.caption(scene, true));
        return out;
    }
}
