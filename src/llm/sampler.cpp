#include "llm/sampler.h"

#include <algorithm>
#include <cmath>

namespace pareto::llm {

Sampler::Sampler(const SamplerOptions& options) : o_(options), rng_(options.seed) {}

void Sampler::accept(int32_t token) {
  recent_.push_back(token);
  if (o_.repeat_last_n >= 0 && recent_.size() > size_t(o_.repeat_last_n)) recent_.erase(recent_.begin());
}

int32_t Sampler::sample(float* logits, int64_t vocab) {
  if (o_.repeat_penalty != 1.f)
    for (int32_t t : recent_) {
      if (t < 0 || t >= vocab) continue;
      float& l = logits[t];
      l = l > 0 ? l / o_.repeat_penalty : l * o_.repeat_penalty;
    }
  if (o_.temperature <= 0.f) return int32_t(std::max_element(logits, logits + vocab) - logits);
  candidates_.clear();
  for (int64_t i = 0; i < vocab; ++i) candidates_.emplace_back(logits[i] / o_.temperature, int32_t(i));
  // Only the top k need ordering (a full sort of a 32k vocabulary costs a
  // millisecond per token); the order, ties by id, is the same either way.
  auto higher = [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  if (o_.top_k > 0 && size_t(o_.top_k) < candidates_.size()) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + o_.top_k, candidates_.end(), higher);
    candidates_.resize(size_t(o_.top_k));
  } else {
    std::sort(candidates_.begin(), candidates_.end(), higher);
  }
  float mx = candidates_[0].first;
  std::vector<double>& p = probs_;
  p.resize(candidates_.size());
  double sum = 0;
  for (size_t i = 0; i < candidates_.size(); ++i) sum += p[i] = std::exp(double(candidates_[i].first - mx));
  for (double& x : p) x /= sum;
  size_t keep = p.size();
  if (o_.min_p > 0)
    for (size_t i = 1; i < p.size(); ++i)
      if (p[i] < o_.min_p * p[0]) {
        keep = i;
        break;
      }
  if (o_.top_p < 1.f) {
    double acc = 0;
    for (size_t i = 0; i < keep; ++i) {
      acc += p[i];
      if (acc >= o_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += p[i];
  double r = std::uniform_real_distribution<double>(0, total)(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= p[i];
    if (r <= 0) return candidates_[i].second;
  }
  return candidates_[keep - 1].second;
}

}  // namespace pareto::llm
