package dev.cogvlm4j.langchain4j;

import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.model.GenerationOptions;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;

/**
 * A LangChain4j {@link ChatModel} answered by a cogvlm4j model in this process: text and image content, history
 * from earlier user/AI messages.
 *
 * <pre>{@code
 * ChatModel model = new CogVlmChatModel(CogVlm.load(Path.of("cogvlm2-llama3-chat-19B")));
 * String answer = model.chat(UserMessage.from(TextContent.from("What is this?"), ImageContent.from(base64, "image/png")))
 *         .aiMessage().text();
 * }</pre>
 */
public class CogVlmChatModel implements ChatModel {
    private final CogVlm vlm;
    private final GenerationOptions defaults;

    /** Uses the reference demos' decoding (greedy) with at most 512 new tokens. */
    public CogVlmChatModel(CogVlm vlm) {
        this(vlm, GenerationOptions.defaults().withMaxNewTokens(512));
    }

    /** Uses {@code defaults} where a request sets nothing. */
    public CogVlmChatModel(CogVlm vlm, GenerationOptions defaults) {
        this.vlm = vlm;
        this.defaults = defaults;
    }

    @Override
    public ChatResponse doChat(ChatRequest request) {
        Answer a = vlm.ask(Messages.question(vlm, request.messages()), Messages.options(request, defaults), null);
        return response(a);
    }

    static ChatResponse response(Answer a) {
        return ChatResponse.builder().aiMessage(AiMessage.from(a.text()))
                .tokenUsage(new TokenUsage(a.promptTokens(), a.ids().length))
                .finishReason(a.stoppedAtEos() ? FinishReason.STOP : FinishReason.LENGTH).build();
    }
}
