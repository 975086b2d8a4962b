// Helpers of the LLM engine's output: stop strings held back across pieces,
// and the log-probabilities and entropy of one token's distribution.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pareto::api {

// Text passes through unless it may begin a stop string: that tail is held
// until the next piece decides. A stop string found cuts the text before it.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops = {});
  // Returns the text that can be sent now; `hit` is set when a stop string appeared.
  std::string push(const std::string& text, bool& hit);
  // The held tail at the end of generation (no stop string came).
  std::string flush();

 private:
  std::vector<std::string> stops_;
  std::string held_;
};

struct TokenDistribution {
  double log_sum_exp = 0;  // log of the softmax's denominator
  double entropy = 0;      // nats
};
// Softmax statistics of `logits` (temperature 1: the model's own distribution).
TokenDistribution token_distribution(const float* logits, int64_t vocab);
// The `n` most likely token ids, most likely first.
std::vector<int32_t> top_tokens(const float* logits, int64_t vocab, int n);

}  // namespace pareto::api
