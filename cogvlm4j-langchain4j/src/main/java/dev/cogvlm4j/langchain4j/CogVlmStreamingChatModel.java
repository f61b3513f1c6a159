package dev.cogvlm4j.langchain4j;

import dev.cogvlm4j.Answer;
import dev.cogvlm4j.CogVlm;
import dev.cogvlm4j.model.GenerationOptions;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;

/**
 * A LangChain4j {@link StreamingChatModel} backed by a cogvlm4j model: text arrives through
 * {@code onPartialResponse} as it is generated, on a virtual thread of its own.
 */
public class CogVlmStreamingChatModel implements StreamingChatModel {
    private final CogVlm vlm;
    private final GenerationOptions defaults;

    /** Uses the reference demos' decoding (greedy) with at most 512 new tokens. */
    public CogVlmStreamingChatModel(CogVlm vlm) {
        this(vlm, GenerationOptions.defaults().withMaxNewTokens(512));
    }

    /** Uses {@code defaults} where a request sets nothing. */
    public CogVlmStreamingChatModel(CogVlm vlm, GenerationOptions defaults) {
        this.vlm = vlm;
        this.defaults = defaults;
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        Thread.ofVirtual().name("cogvlm4j-stream").start(() -> {
            try {
                Answer a = vlm.ask(Messages.question(vlm, request.messages()), Messages.options(request, defaults),
                        handler::onPartialResponse);
                handler.onCompleteResponse(CogVlmChatModel.response(a));
            } catch (RuntimeException e) {
                handler.onError(e);
            }
        });
    }
}
