#include "api/engine_text.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pareto::api {

StopFilter::StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopFilter::push(const std::string& text, bool& hit) {
  hit = false;
  held_ += text;
  if (stops_.empty()) return std::exchange(held_, {});
  size_t first = std::string::npos;
  for (const std::string& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    hit = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Hold the longest tail that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const std::string& s : stops_)
    for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k)
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopFilter::flush() { return std::exchange(held_, {}); }

TokenDistribution token_distribution(const float* logits, int64_t vocab) {
  float mx = logits[0];
  for (int64_t i = 1; i < vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0, weighted = 0;
  for (int64_t i = 0; i < vocab; ++i) {
    const double e = std::exp(double(logits[i]) - mx);
    sum += e;
    weighted += e * (double(logits[i]) - mx);
  }
  TokenDistribution d;
  d.log_sum_exp = mx + std::log(sum);
  // H = -sum p log p with log p = l - lse: H = lse - E[l] (here relative to mx).
  d.entropy = std::max(0.0, std::log(sum) - weighted / sum);
  return d;
}

std::vector<int32_t> top_tokens(const float* logits, int64_t vocab, int n) {
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const size_t k = std::min<size_t>(size_t(std::max(n, 0)), ids.size());
  std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(k), ids.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  ids.resize(k);
  return ids;
}

}  // namespace pareto::api
