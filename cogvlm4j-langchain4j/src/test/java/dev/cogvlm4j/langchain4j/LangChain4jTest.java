package dev.cogvlm4j.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.Question;
import dev.cogvlm4j.model.GenerationOptions;
import dev.cogvlm4j.text.Turn;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A LangChain4j application swapping in cogvlm4j: same answers as the library, streamed or not. */
class LangChain4jTest {
    private static final Path ROOT = Paths.get("").toAbsolutePath().getParent();

    @Test
    void chatAndStreamingChatAnswerLikeTheLibrary() throws Exception {
        try (CogVlm vlm = CogVlm.load(ROOT.resolve("models/cogvlm-tiny-random"))) {
            GenerationOptions g = GenerationOptions.greedy(10, true);
            byte[] png = Files.readAllBytes(ROOT.resolve("examples/coins.png"));
            UserMessage first = UserMessage.from(TextContent.from("What is this?"),
                    ImageContent.from(Base64.getEncoder().encodeToString(png), "image/png"));
            UserMessage follow = UserMessage.from("And how many?");
            ChatRequest req = ChatRequest.builder().messages(first, AiMessage.from("Coins."), follow).build();

            Answer direct = vlm.ask(new Question("And how many?", List.of(new Turn("What is this?", "Coins.")),
                    vlm.loadImage(ROOT.resolve("examples/coins.png")), null), g, null);
            ChatResponse r = new CogVlmChatModel(vlm, g).chat(req);
            assertEquals(direct.text(), r.aiMessage().text());
            assertEquals(direct.promptTokens(), r.tokenUsage().inputTokenCount());

            List<String> parts = new ArrayList<>();
            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            new CogVlmStreamingChatModel(vlm, g).chat(req, new StreamingChatResponseHandler() {
                @Override
                public void onPartialResponse(String partial) {
                    parts.add(partial);
                }

                @Override
                public void onCompleteResponse(ChatResponse response) {
                    done.complete(response);
                }

                @Override
                public void onError(Throwable error) {
                    done.completeExceptionally(error);
                }
            });
            ChatResponse s = done.get(60, TimeUnit.SECONDS);
            assertEquals(direct.text(), String.join("", parts));
            assertEquals(direct.text(), s.aiMessage().text());
            assertTrue(parts.size() > 1, "streamed in pieces");
        }
    }

    @Test
    void errorsReachTheStreamingHandler() throws Exception {
        try (CogVlm vlm = CogVlm.load(ROOT.resolve("models/cogvlm-tiny-random"))) {
            CompletableFuture<Throwable> err = new CompletableFuture<>();
            new CogVlmStreamingChatModel(vlm).chat(ChatRequest.builder().messages(AiMessage.from("hi")).build(),
                    new StreamingChatResponseHandler() {
                        @Override
                        public void onCompleteResponse(ChatResponse response) {
                            err.complete(null);
                        }

                        @Override
                        public void onError(Throwable error) {
                            err.complete(error);
                        }
                    });
            Throwable t = err.get(30, TimeUnit.SECONDS);
            assertTrue(t != null && t.getMessage().contains("last message must come from the user"), String.valueOf(t));
        }
    }
}
