// pareto profile for LLMs: a prompt is prefilled and tokens decoded with
// every stage of the forward pass timed (llm::Transformer::stage_hook) and
// counted analytically from the model's shapes and tensor types.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "llm/kv_cache.h"
#include "llm/model.h"
#include "llm/transformer.h"
#include "profile/analysis.h"

namespace pareto::profile {

// The cost of one stage event: multiply-adds by the weight type's precision,
// weight bytes as stored (GGML row sizes), KV cache bytes, activations.
OpRecord count_llm_stage(const llm::ModelConfig& c, llm::KvType kv, const llm::Transformer::StageEvent& e);

// "fp32", "fp16", "bf16", "int8" (8-bit types) or "int4w" (fewer bits).
std::string weight_precision(uint32_t ggml_type, int64_t cols);

struct LlmProfileOptions {
  int64_t prompt_tokens = 64;
  int64_t decode_tokens = 16;
  llm::KvType kv = llm::KvType::f16;
  uint32_t seed = 1;
  // Wraps the timed decode loop (the one with no stage recording): the
  // caller's energy meter goes around exactly the decoded tokens.
  std::function<void(const std::function<void()>&)> around_decode;
};

// Two passes: "decode" (per token) and "prefill" (per prompt token). The
// latencies come from a run with no stage recording; the per-stage times and
// counts from a second run with it (decode: the mean over the tokens). Runs
// on the current thread pool.
std::vector<PassProfile> profile_llm(const llm::Model& model, const LlmProfileOptions& options);

}  // namespace pareto::profile
