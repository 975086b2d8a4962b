#include "quant/mix_cost.h"

#include "core/thread_pool.h"

namespace pareto::quant {

LinearFit fit_decode_model(const std::vector<std::pair<double, double>>& p) {
  LinearFit f;
  if (p.empty()) return f;
  const double n = double(p.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : p) sx += x, sy += y, sxx += x * x, sxy += x * y;
  const double var = sxx - sx * sx / n;
  if (p.size() >= 2 && var > 1e-12 * std::max(sxx, 1e-300)) {
    f.scale = (sxy - sx * sy / n) / var;
    f.constant = (sy - f.scale * sx) / n;
    if (f.scale > 0) return f;  // a falling fit (noise over sums too close) says nothing: fall through
  }
  f.scale = 1;
  f.constant = (sy - sx) / n;
  return f;
}

DecodeCostModel::DecodeCostModel(MixLab& lab, int threads, int reps, MatmulTimeStore store)
    : lab_(lab), pool_(std::make_unique<ThreadPool>(threads)), reps_(reps), store_(std::move(store)) {}
DecodeCostModel::~DecodeCostModel() = default;

double DecodeCostModel::tensor_ms(size_t i, uint32_t choice) {
  // GPTQ's bytes run as fast as rounding's: one time per stored type.
  const std::pair<size_t, uint32_t> key{i, lab_.stored_type(i, choice)};
  auto it = ms_.find(key);
  if (it != ms_.end()) return it->second;
  const std::string stored = std::to_string(i) + ":" + std::to_string(key.second);
  std::optional<double> ms = store_.find ? store_.find(stored) : std::nullopt;
  if (!ms) {
    (void)lab_.matrix_bytes(i, type_of(choice));  // quantized on the caller's threads, not the timing's
    PoolScope scope(pool_.get());
    ms = lab_.matvec_ms(i, type_of(choice), reps_);
    if (store_.add) store_.add(stored, *ms);
  }
  return ms_.emplace(key, *ms).first->second;
}

double DecodeCostModel::matmul_ms(const Mix& mix) {
  double sum = 0;
  for (size_t i = 0; i < mix.size(); ++i) sum += tensor_ms(i, mix[i]);
  return sum;
}

}  // namespace pareto::quant
