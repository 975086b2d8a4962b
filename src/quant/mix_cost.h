// The decode-time cost model of pareto tune's GGUF search: one decoded
// token costs about a constant (attention, norms, the KV cache, the calls)
// plus k times the sum of its matrices' one-token matmul times, each timed
// alone on this CPU (MixLab::matvec_ms). Timed alone, a matrix sits in the
// cache in a way it does not during a whole decode step, so the scale k and
// the constant are fitted to whole-model timings (the uniform formats');
// the ranking of mixes needs only the sum. The search ranks candidates by
// it (their (predicted time, KL) front is timed too); every point shown is
// still timed for real.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "quant/llm_mix.h"

namespace pareto {
class ThreadPool;
}

namespace pareto::quant {

struct LinearFit {
  double constant = 0, scale = 1;
};
// Least squares of measured = constant + scale * sum over (sum, measured)
// pairs; one pair (or sums all equal): scale 1, the constant its mean residual.
LinearFit fit_decode_model(const std::vector<std::pair<double, double>>& sum_and_measured);

// Where measured matmul times are kept between runs (pareto tune's cache):
// find gives a time stored under a key or nothing, add stores one.
struct MatmulTimeStore {
  std::function<std::optional<double>(const std::string& key)> find;
  std::function<void(const std::string& key, double ms)> add;
};

class DecodeCostModel {
 public:
  // Times at `threads` threads, `reps` matmuls per (tensor, stored type).
  // With a store, a (tensor, stored type) timed in an earlier run takes
  // that run's time: the evolution ranks by these times, so a rerun from
  // the cache ranks, and so searches, as the first run did.
  DecodeCostModel(MixLab& lab, int threads, int reps, MatmulTimeStore store = {});
  ~DecodeCostModel();
  // The sum of the mix's one-token matmul times (each (tensor, stored type) timed once).
  double matmul_ms(const Mix& mix);
  // Tensor i's one-token matmul time as `choice` (timed on first use).
  double tensor_ms(size_t i, uint32_t choice);
  void fit(const std::vector<std::pair<double, double>>& sum_and_measured) { fit_ = fit_decode_model(sum_and_measured); }
  double predict_ms(const Mix& mix) { return fit_.constant + fit_.scale * matmul_ms(mix); }
  const LinearFit& fitted() const { return fit_; }

 private:
  MixLab& lab_;
  std::unique_ptr<ThreadPool> pool_;  // the timing's threads, started once
  int reps_;
  MatmulTimeStore store_;
  std::map<std::pair<size_t, uint32_t>, double> ms_;
  LinearFit fit_;
};

}  // namespace pareto::quant
