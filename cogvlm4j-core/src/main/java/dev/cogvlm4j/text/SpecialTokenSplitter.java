package dev.cogvlm4j.text;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Splits special-token text (such as {@code </s>} or {@code <|eot_id|>}) out of a string before BPE, longest match
 * first, left to right, as HuggingFace's added-token trie does.
 */
final class SpecialTokenSplitter {
    /** A piece of the input: plain text, or a special token with its id. */
    record Segment(String text, int specialId) {
        boolean isSpecial() {
            return specialId >= 0;
        }
    }

    private final Map<Character, List<String>> byFirstChar = new HashMap<>();
    private final Map<String, Integer> ids;

    SpecialTokenSplitter(Map<String, Integer> specialTokens) {
        this.ids = specialTokens;
        for (String s : specialTokens.keySet()) {
            if (!s.isEmpty()) {
                byFirstChar.computeIfAbsent(s.charAt(0), c -> new ArrayList<>()).add(s);
            }
        }
        byFirstChar.values().forEach(l -> l.sort(Comparator.comparingInt(String::length).reversed()));
    }

    List<Segment> split(String text) {
        List<Segment> out = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            List<String> cands = byFirstChar.get(text.charAt(i));
            String match = null;
            if (cands != null) {
                for (String c : cands) {
                    if (text.startsWith(c, i)) {
                        match = c;
                        break;
                    }
                }
            }
            if (match == null) {
                i++;
                continue;
            }
            if (i > start) {
                out.add(new Segment(text.substring(start, i), -1));
            }
            out.add(new Segment(match, ids.get(match)));
            i += match.length();
            start = i;
        }
        if (start < text.length()) {
            out.add(new Segment(text.substring(start), -1));
        }
        return out;
    }
}
