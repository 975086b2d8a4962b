#include "llm/chat.h"

#include "core/error.h"

namespace pareto::llm {

ChatFormat chat_format_by_name(const std::string& name) {
  if (name == "chatml") return ChatFormat::chatml;
  if (name == "llama2") return ChatFormat::llama2;
  if (name == "llama3") return ChatFormat::llama3;
  if (name == "raw") return ChatFormat::raw;
  fail_argument("unknown chat template '" + name + "' (chatml, llama2, llama3, raw)");
}

ChatFormat detect_chat_format(const std::string& t) {
  if (t.find("<|im_start|>") != std::string::npos) return ChatFormat::chatml;
  if (t.find("<|start_header_id|>") != std::string::npos) return ChatFormat::llama3;
  if (t.find("[INST]") != std::string::npos) return ChatFormat::llama2;
  return ChatFormat::raw;
}

const char* chat_format_name(ChatFormat f) {
  switch (f) {
    case ChatFormat::chatml: return "chatml";
    case ChatFormat::llama2: return "llama2";
    case ChatFormat::llama3: return "llama3";
    default: return "raw";
  }
}

std::string format_user_turn(ChatFormat f, const std::string& system, const std::string& user, bool first_turn) {
  switch (f) {
    case ChatFormat::chatml: {
      // The previous reply stopped at <|im_end|>, which was not fed back: close it here.
      std::string s = first_turn ? "" : "<|im_end|>\n";
      if (first_turn && !system.empty()) s += "<|im_start|>system\n" + system + "<|im_end|>\n";
      return s + "<|im_start|>user\n" + user + "<|im_end|>\n<|im_start|>assistant\n";
    }
    case ChatFormat::llama3: {
      std::string s = first_turn ? "" : "<|eot_id|>";
      if (first_turn && !system.empty()) s += "<|start_header_id|>system<|end_header_id|>\n\n" + system + "<|eot_id|>";
      return s + "<|start_header_id|>user<|end_header_id|>\n\n" + user + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    }
    case ChatFormat::llama2: {
      std::string body = first_turn && !system.empty() ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + user : user;
      // BOS comes from the tokenizer on the first turn; later turns close the reply with </s><s>.
      return (first_turn ? "[INST] " : " </s><s>[INST] ") + body + " [/INST]";
    }
    default: return first_turn ? user : "\n" + user;
  }
}

namespace {

void check_roles(const std::vector<Message>& messages) {
  if (messages.empty()) fail_argument("messages: at least one message is needed");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string& r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant")
      fail_argument("messages[" + std::to_string(i) + "].role: '" + r + "' is not system, user or assistant");
    if (r == "system" && i != 0) fail_argument("messages[" + std::to_string(i) + "]: a system message comes first");
  }
}

std::string llama2_conversation(const std::vector<Message>& messages) {
  // [INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] reply </s><s>[INST] user [/INST]
  std::string out, system;
  size_t i = 0;
  if (messages[0].role == "system") system = messages[i++].content;
  bool first = true, open_reply = false;
  for (; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "user") {
      std::string body = first && !system.empty() ? "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + m.content : m.content;
      out += (first ? "[INST] " : open_reply ? " </s><s>[INST] " : " [INST] ") + body + " [/INST]";
      first = false, open_reply = false;
    } else {
      out += " " + m.content;
      open_reply = true;
    }
  }
  return out;
}

}  // namespace

std::string format_conversation(ChatFormat f, const std::vector<Message>& messages) {
  check_roles(messages);
  std::string out;
  switch (f) {
    case ChatFormat::chatml:
      for (const Message& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      return out + "<|im_start|>assistant\n";
    case ChatFormat::llama3:
      for (const Message& m : messages) out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + m.content + "<|eot_id|>";
      return out + "<|start_header_id|>assistant<|end_header_id|>\n\n";
    case ChatFormat::llama2:
      return llama2_conversation(messages);
    default:
      // No template: the messages' text, one per line (a completion model continues it).
      for (size_t i = 0; i < messages.size(); ++i) out += (i ? "\n" : "") + messages[i].content;
      return out;
  }
}

}  // namespace pareto::llm
