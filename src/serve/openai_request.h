// Parses and checks the bodies of /v1/chat/completions and /v1/completions.
// Every wrong type or value is a 400 naming the parameter; nothing in a
// body can make the server allocate beyond the body's own size.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pareto/llm_engine.hpp"

namespace pareto::serve {

struct CompletionRequest {
  bool chat = false;
  std::vector<ChatMessage> messages;  // chat
  std::string prompt;                 // completions
  CompletionParams params;
  bool max_tokens_given = false;
  bool stream = false, include_usage = false;
  bool echo = false;          // completions: the prompt before the text
  bool private_request = false;  // never routed off the device
  std::string model;
};

// JSON nested at most this deep: copying and printing a document recurse
// once per level, so a deeper one could overflow a worker's stack.
constexpr int kMaxJsonDepth = 64;
// Parses text; a document nested deeper than kMaxJsonDepth is discarded (and
// *too_deep set), as is invalid JSON.
nlohmann::json parse_json_bounded(const std::string& text, bool* too_deep = nullptr);
// Parses the body text; throws ApiError (400) on anything wrong.
nlohmann::json parse_body(const std::string& body);
CompletionRequest parse_chat_request(const nlohmann::json& body);
CompletionRequest parse_completion_request(const nlohmann::json& body);

}  // namespace pareto::serve
