// The response bodies and stream chunks of the OpenAI API.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pareto/llm_engine.hpp"

namespace pareto::serve {

struct ResponseIds {
  std::string id;     // chatcmpl-... / cmpl-...
  std::string model;  // the model's name as /v1/models lists it
  int64_t created = 0;
  std::string served_by = "device", route_reason;
};

nlohmann::json usage_json(const CompletionEvent& last);
nlohmann::json chat_logprobs_json(const std::vector<TokenLogprob>& tokens);
nlohmann::json legacy_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t first_offset);

// Whole responses (stream: false). `text` is everything generated.
nlohmann::json chat_response(const ResponseIds& ids, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                             bool want_logprobs, const CompletionEvent& last);
nlohmann::json completion_response(const ResponseIds& ids, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                                   bool want_logprobs, size_t first_offset, const CompletionEvent& last);

// Stream chunks. finish_reason empty: null.
nlohmann::json chat_chunk(const ResponseIds& ids, const nlohmann::json& delta, const nlohmann::json& logprobs,
                          const std::string& finish_reason);
nlohmann::json completion_chunk(const ResponseIds& ids, const std::string& text, const nlohmann::json& logprobs,
                                const std::string& finish_reason);
// The last chunk of stream_options.include_usage: no choices, the usage.
nlohmann::json usage_chunk(const ResponseIds& ids, bool chat, const CompletionEvent& last);

// The finish reasons OpenAI defines: stop and length. A cancelled stream
// (its client gone, or the server stopping) ends as stop.
std::string openai_finish_reason(const std::string& engine_reason);

}  // namespace pareto::serve
