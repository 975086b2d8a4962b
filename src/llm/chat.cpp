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

}  // namespace pareto::llm
