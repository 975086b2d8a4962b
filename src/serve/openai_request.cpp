#include "serve/openai_request.h"

#include <random>

#include "serve/api_error.h"

namespace pareto::serve {

namespace {

using nlohmann::json;

constexpr size_t kMaxMessages = 4096;

const json* field(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

bool get_bool(const json& body, const char* name, bool fallback) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_boolean()) bad_request(std::string(name) + " must be a boolean", name);
  return v->get<bool>();
}

double get_number(const json& body, const char* name, double fallback, double lo, double hi) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_number()) bad_request(std::string(name) + " must be a number", name);
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) bad_request(std::string(name) + " must be between " + json(lo).dump() + " and " + json(hi).dump(), name);
  return x;
}

int64_t get_integer(const json& body, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  const json* v = field(body, name);
  if (!v) return fallback;
  if (!v->is_number_integer()) bad_request(std::string(name) + " must be an integer", name);
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)) bad_request(std::string(name) + " is too large", name);
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) bad_request(std::string(name) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi), name);
  return x;
}

std::vector<std::string> get_stop(const json& body) {
  const json* v = field(body, "stop");
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array()) bad_request("stop must be a string or an array of strings", "stop");
  std::vector<std::string> out;
  for (const json& s : *v) {
    if (!s.is_string()) bad_request("stop must be a string or an array of strings", "stop");
    out.push_back(s.get<std::string>());
  }
  return out;
}

// Content as a string or as an array of parts of which only text is supported.
std::string message_content(const json& m, size_t i) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  const json* c = field(m, "content");
  if (!c) return {};
  if (c->is_string()) return c->get<std::string>();
  if (!c->is_array()) bad_request(param + " must be a string or an array of content parts", param);
  std::string text;
  for (const json& part : *c) {
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      bad_request(param + ": each part is an object with a type", param);
    if (part["type"] != "text") bad_request(param + ": only text parts are supported, not " + part["type"].dump(), param);
    if (!part.contains("text") || !part["text"].is_string()) bad_request(param + ": a text part needs a string text", param);
    text += part["text"].get<std::string>();
  }
  return text;
}

// The parameters both endpoints share.
void parse_common(const json& body, CompletionRequest& r, const char* max_tokens_name) {
  if (const json* m = field(body, "model")) {
    if (!m->is_string()) bad_request("model must be a string", "model");
    r.model = m->get<std::string>();
  }
  if (get_integer(body, "n", 1, 1, 128) != 1) bad_request("only n = 1 is supported", "n");
  r.stream = get_bool(body, "stream", false);
  if (const json* so = field(body, "stream_options")) {
    if (!so->is_object()) bad_request("stream_options must be an object", "stream_options");
    if (!r.stream) bad_request("stream_options is only allowed with stream: true", "stream_options");
    r.include_usage = get_bool(*so, "include_usage", false);
  }
  CompletionParams& p = r.params;
  const int64_t max_tokens = get_integer(body, max_tokens_name, 0, 1, INT32_MAX);
  r.max_tokens_given = max_tokens > 0;
  p.max_tokens = max_tokens;  // 0: until the context is full
  p.temperature = float(get_number(body, "temperature", 0.8, 0, 2));
  if (p.temperature < 1e-3f) p.temperature = 0;  // greedy: dividing logits by a tiny temperature overflows
  p.top_p = float(get_number(body, "top_p", 0.95, 0, 1));
  p.top_k = int(get_integer(body, "top_k", 40, 0, 1 << 20));
  p.min_p = float(get_number(body, "min_p", 0.05, 0, 1));
  p.repeat_penalty = float(get_number(body, "repeat_penalty", 1.0, 0.01, 10));  // 0 would divide by zero
  p.ignore_eos = get_bool(body, "ignore_eos", false);  // llama.cpp's extension, for benchmarks
  // Accepted for compatibility; the sampler has no presence/frequency penalty.
  get_number(body, "presence_penalty", 0, -2, 2);
  get_number(body, "frequency_penalty", 0, -2, 2);
  const json* seed = field(body, "seed");
  if (seed) {
    if (!seed->is_number_integer()) bad_request("seed must be an integer", "seed");
    p.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : uint64_t(seed->get<int64_t>());
  } else {
    p.seed = std::random_device{}();
  }
  p.stop = get_stop(body);
  if (p.stop.size() > 16) bad_request("at most 16 stop strings", "stop");
  for (const char* unsupported : {"tools", "functions", "tool_choice", "response_format", "logit_bias", "suffix"})
    if (field(body, unsupported)) bad_request(std::string(unsupported) + " is not supported by this server", unsupported);
  if (const json* pr = field(body, "pareto")) {  // pareto's own options
    if (!pr->is_object()) bad_request("pareto must be an object", "pareto");
    r.private_request = get_bool(*pr, "private", false);
  }
}

}  // namespace

json parse_json_bounded(const std::string& text, bool* too_deep) {
  bool deep = false;
  // The parser itself keeps its own stack; the callback stops a document
  // from growing deeper than the limit (its deeper values are dropped).
  json j = json::parse(
      text,
      [&deep](int depth, json::parse_event_t, json&) {
        if (depth > kMaxJsonDepth) deep = true;
        return !deep;
      },
      /*allow_exceptions=*/false);
  if (too_deep) *too_deep = deep;
  return deep ? json(json::value_t::discarded) : j;
}

json parse_body(const std::string& body) {
  bool too_deep = false;
  json j = parse_json_bounded(body, &too_deep);
  if (too_deep) bad_request("the body nests objects or arrays deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  if (j.is_discarded()) bad_request("the body is not valid JSON (UTF-8)");
  if (!j.is_object()) bad_request("the body must be a JSON object");
  return j;
}

CompletionRequest parse_chat_request(const json& body) {
  CompletionRequest r;
  r.chat = true;
  const json* messages = field(body, "messages");
  if (!messages) bad_request("messages is required", "messages");
  if (!messages->is_array() || messages->empty()) bad_request("messages must be a non-empty array", "messages");
  if (messages->size() > kMaxMessages) bad_request("too many messages", "messages");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& m = (*messages)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_request(param + " must be an object", param);
    const json* role = field(m, "role");
    if (!role || !role->is_string()) bad_request(param + ".role must be a string", param + ".role");
    std::string name = role->get<std::string>();
    if (name == "developer") name = "system";  // OpenAI's newer name for it
    if (name != "system" && name != "user" && name != "assistant")
      bad_request(param + ".role '" + name + "' is not supported (system, user, assistant)", param + ".role");
    r.messages.push_back({name, message_content(m, i)});
  }
  // max_completion_tokens is the current name; max_tokens the deprecated one.
  parse_common(body, r, field(body, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens");
  r.params.logprobs = get_bool(body, "logprobs", false);
  r.params.top_logprobs = int(get_integer(body, "top_logprobs", 0, 0, 20));
  if (r.params.top_logprobs > 0 && !r.params.logprobs) bad_request("top_logprobs needs logprobs: true", "top_logprobs");
  return r;
}

CompletionRequest parse_completion_request(const json& body) {
  CompletionRequest r;
  const json* prompt = field(body, "prompt");
  if (!prompt) bad_request("prompt is required", "prompt");
  if (prompt->is_array()) {
    if (prompt->size() != 1 || !(*prompt)[0].is_string()) bad_request("prompt must be a string (or an array of one string)", "prompt");
    r.prompt = (*prompt)[0].get<std::string>();
  } else if (prompt->is_string()) {
    r.prompt = prompt->get<std::string>();
  } else {
    bad_request("prompt must be a string", "prompt");
  }
  parse_common(body, r, "max_tokens");
  if (!r.max_tokens_given) r.params.max_tokens = 16;  // the completions endpoint's documented default
  r.echo = get_bool(body, "echo", false);
  // Legacy logprobs: an integer count of alternatives (0..5).
  if (const json* lp = field(body, "logprobs")) {
    if (!lp->is_number_integer() || lp->get<int64_t>() < 0 || lp->get<int64_t>() > 5)
      bad_request("logprobs must be an integer 0..5", "logprobs");
    r.params.logprobs = true;
    r.params.top_logprobs = int(lp->get<int64_t>());
  }
  return r;
}

}  // namespace pareto::serve
