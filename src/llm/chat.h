// Chat prompt formats: ChatML, Llama 2 and Llama 3, recognized from a GGUF
// `tokenizer.chat_template` or chosen by name. Because the conversation
// stays in the KV cache, a turn is formatted as the text to append.
#pragma once
#include <string>
#include <vector>

namespace pareto::llm {

enum class ChatFormat { raw, chatml, llama2, llama3 };

// "chatml", "llama2", "llama3", "raw"; throws for other names.
ChatFormat chat_format_by_name(const std::string& name);
// Recognizes the Jinja template of a model; raw when unknown or empty.
ChatFormat detect_chat_format(const std::string& jinja);
const char* chat_format_name(ChatFormat f);

// Text to append for one user turn (and the assistant header), given whether
// this is the first turn and whether an assistant reply precedes it.
std::string format_user_turn(ChatFormat f, const std::string& system, const std::string& user, bool first_turn);

// A whole conversation (roles system, user, assistant; the system message
// first if any) as one prompt ending with the assistant's header.
struct Message {
  std::string role, content;
};
std::string format_conversation(ChatFormat f, const std::vector<Message>& messages);

}  // namespace pareto::llm
