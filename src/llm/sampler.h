// Token sampling: greedy, temperature, top-k, top-p, min-p and repetition
// penalty, reproducible from a seed.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace pareto::llm {

struct SamplerOptions {
  float temperature = 0.8f;  // <= 0: greedy
  int top_k = 40;            // <= 0: off
  float top_p = 0.95f;       // >= 1: off
  float min_p = 0.05f;       // <= 0: off
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  // Picks the next token from `logits` (modified in place by the penalty).
  int32_t sample(float* logits, int64_t vocab);
  // Tokens already in the context, for the repetition penalty.
  void accept(int32_t token);

 private:
  SamplerOptions o_;
  std::mt19937_64 rng_;
  std::vector<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> candidates_;  // reused: no allocation per token
  std::vector<double> probs_;
};

}  // namespace pareto::llm
