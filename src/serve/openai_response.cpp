#include "serve/openai_response.h"

namespace pareto::serve {

using nlohmann::json;

namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

json null_or(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// pareto's own fields: which side answered and why, and the timings.
json pareto_json(const ResponseIds& ids, const CompletionEvent& last) {
  return {{"served_by", ids.served_by},
          {"route_reason", ids.route_reason},
          {"timings",
           {{"queue_ms", last.queue_seconds * 1e3},
            {"prefill_ms", last.prefill_seconds * 1e3},
            {"decode_ms", last.decode_seconds * 1e3}}},
          {"confidence", {{"mean_entropy", last.mean_entropy}, {"min_logprob", last.min_logprob}}}};
}

}  // namespace

std::string openai_finish_reason(const std::string& r) { return r == "length" ? "length" : "stop"; }

json usage_json(const CompletionEvent& last) {
  return {{"prompt_tokens", last.prompt_tokens},
          {"completion_tokens", last.completion_tokens},
          {"total_tokens", last.prompt_tokens + last.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", last.cached_prompt_tokens}}}};
}

json chat_logprobs_json(const std::vector<TokenLogprob>& tokens) {
  json content = json::array();
  for (const TokenLogprob& t : tokens) {
    json top = json::array();
    for (const auto& [tok, lp] : t.top) top.push_back({{"token", tok}, {"logprob", lp}, {"bytes", bytes_of(tok)}});
    content.push_back({{"token", t.token}, {"logprob", t.logprob}, {"bytes", bytes_of(t.token)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json legacy_logprobs_json(const std::vector<TokenLogprob>& tokens, size_t first_offset) {
  json toks = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
  size_t offset = first_offset;
  for (const TokenLogprob& t : tokens) {
    toks.push_back(t.token);
    lps.push_back(t.logprob);
    json top = json::object();
    for (const auto& [tok, lp] : t.top) top[tok] = lp;
    tops.push_back(top);
    offsets.push_back(offset);
    offset += t.token.size();
  }
  return {{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json chat_response(const ResponseIds& ids, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                   bool want_logprobs, const CompletionEvent& last) {
  json choice = {{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", text}}},
                 {"logprobs", want_logprobs ? chat_logprobs_json(logprobs) : json(nullptr)},
                 {"finish_reason", openai_finish_reason(last.finish_reason)}};
  return {{"id", ids.id},     {"object", "chat.completion"}, {"created", ids.created},         {"model", ids.model},
          {"choices", {choice}}, {"usage", usage_json(last)}, {"pareto", pareto_json(ids, last)}};
}

json completion_response(const ResponseIds& ids, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                         bool want_logprobs, size_t first_offset, const CompletionEvent& last) {
  json choice = {{"index", 0},
                 {"text", text},
                 {"logprobs", want_logprobs ? legacy_logprobs_json(logprobs, first_offset) : json(nullptr)},
                 {"finish_reason", openai_finish_reason(last.finish_reason)}};
  return {{"id", ids.id},     {"object", "text_completion"}, {"created", ids.created},         {"model", ids.model},
          {"choices", {choice}}, {"usage", usage_json(last)}, {"pareto", pareto_json(ids, last)}};
}

json chat_chunk(const ResponseIds& ids, const json& delta, const json& logprobs, const std::string& finish_reason) {
  json choice = {{"index", 0}, {"delta", delta}, {"logprobs", logprobs}, {"finish_reason", null_or(finish_reason)}};
  return {{"id", ids.id}, {"object", "chat.completion.chunk"}, {"created", ids.created}, {"model", ids.model}, {"choices", {choice}}};
}

json completion_chunk(const ResponseIds& ids, const std::string& text, const json& logprobs, const std::string& finish_reason) {
  json choice = {{"index", 0}, {"text", text}, {"logprobs", logprobs}, {"finish_reason", null_or(finish_reason)}};
  return {{"id", ids.id}, {"object", "text_completion"}, {"created", ids.created}, {"model", ids.model}, {"choices", {choice}}};
}

json usage_chunk(const ResponseIds& ids, bool chat, const CompletionEvent& last) {
  return {{"id", ids.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", ids.created},
          {"model", ids.model},
          {"choices", json::array()},
          {"usage", usage_json(last)},
          {"pareto", pareto_json(ids, last)}};
}

}  // namespace pareto::serve
