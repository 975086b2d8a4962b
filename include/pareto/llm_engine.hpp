// pareto LLM engine for servers: one model, N slots (independent sequences,
// each with its own KV cache), a bounded queue of requests, and a scheduler
// thread that runs the active slots' tokens together so that one pass over
// the weights serves every slot (batched decode). Requests stream their
// tokens back through a callback.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pareto/llm.hpp"

namespace pareto {

struct LlmEngineOptions {
  LlmOptions llm;            // ctx is per slot
  int slots = 1;             // parallel sequences
  int max_queue = 64;        // waiting requests beyond the slots; more are refused
  int64_t prefill_chunk = 256;  // prompt tokens per scheduler step, all slots together
};

struct CompletionParams {
  int64_t max_tokens = 256;  // <= 0: until the context is full
  float temperature = 0.8f;  // <= 0: greedy
  float top_p = 0.95f;
  int top_k = 40;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  uint64_t seed = 0;
  bool add_bos = true;     // when the model's vocabulary asks for one (GGUF tokenizer.ggml.add_bos_token)
  bool ignore_eos = false;  // keep writing past end-of-turn tokens (benchmarks, tests)
  std::vector<std::string> stop;  // the text stops before the first of these
  int top_logprobs = 0;           // alternatives reported per token (0..20)
  bool logprobs = false;
};

struct TokenLogprob {
  std::string token;  // the token's bytes (may be part of a UTF-8 character)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // most likely tokens with their log-probabilities
};

// One callback per generated piece of text; the last has done set.
struct CompletionEvent {
  std::string text;                    // new text (complete UTF-8, stop strings withheld)
  std::vector<TokenLogprob> logprobs;  // the tokens behind `text` (when logprobs was asked)
  bool done = false;
  std::string finish_reason;  // done: "stop", "length", "cancelled" or "error"
  std::string error;          // finish_reason "error": what went wrong
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_prompt_tokens = 0;
  double queue_seconds = 0, prefill_seconds = 0, decode_seconds = 0;
  // Confidence of the tokens so far: mean entropy (nats) of the model's
  // distributions and the lowest log-probability of a chosen token.
  double mean_entropy = 0, min_logprob = 0;
};

struct LlmEngineStats {
  int slots = 0, active = 0, queued = 0;
  int64_t requests = 0, prompt_tokens = 0, cached_prompt_tokens = 0, generated_tokens = 0;
  int64_t steps = 0, step_rows = 0;  // scheduler steps and the rows (tokens) they ran
  int64_t cancelled = 0;             // requests that ended cancelled (client gone, cancel(), shutdown)
};

struct ChatMessage {
  std::string role;  // system, user or assistant
  std::string content;
};

class LlmEngine {
 public:
  static Result<std::unique_ptr<LlmEngine>> open(const std::string& model_path, const LlmEngineOptions& options = {});
  ~LlmEngine();  // cancels what runs and joins the scheduler

  // Queues a completion of `prompt` (text, tokenized here; errors such as a
  // prompt longer than the context come back now). on_event runs on the
  // scheduler thread and must return quickly; returning false cancels.
  // Returns the request id, or 0 when the queue is full.
  Result<uint64_t> submit(const std::string& prompt, const CompletionParams& params,
                          std::function<bool(const CompletionEvent&)> on_event);
  // Cancels a queued or running request (its last event has reason "cancelled").
  void cancel(uint64_t id);
  // Cancels every queued and running request (a server stopping).
  void cancel_all();

  // The conversation as the model's chat template formats it, ending with
  // the assistant's header.
  Result<std::string> format_chat(const std::vector<ChatMessage>& messages) const;
  Result<std::vector<int32_t>> tokenize(const std::string& text, bool add_bos) const;
  LlmInfo info() const;
  LlmEngineStats stats() const;

 private:
  struct Impl;
  explicit LlmEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pareto
