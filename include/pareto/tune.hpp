// pareto tune, ONNX CNNs: which convs to run in int8 and with how many
// threads, chosen from measured points rather than assumed ones. The
// search: every conv's sensitivity (output error with only it in int8) and
// time saved in int8 (per-node times of the all-fp32 and all-int8 models),
// a greedy path that adds convs by time saved per unit of error, a few
// points along it plus the anchors (all fp32, int8 with the first and last
// conv float as `pareto quantize` writes by default, all int8), each one
// quantized, run and timed at every thread count; the Pareto front over
// latency, memory and quality loss; and the point the budgets allow.
//
//   pareto::OnnxTuneOptions o;
//   o.max_quality_loss = 0.05;
//   auto r = pareto::tune_onnx_model("det.onnx", "det.tuned.onnx", calib, eval, o);
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"
#include "pareto/quantize_onnx.hpp"

namespace pareto {

// What one candidate costs: measured by running it.
struct TuneCost {
  double latency_ms = 0;  // median over the timed runs
  double memory_mib = 0;  // peak memory (what the measure reports; see memory_what)
};

// Runs the candidate model file at `threads` on `inputs` and returns its
// cost. The default (null) measures in this process: the median of timed
// runs and the session's activation arena. `pareto tune` measures each
// candidate in a child `pareto bench` process instead (peak RSS).
using TuneMeasure = std::function<TuneCost(const std::string& model_path, int threads, const CalibrationSample& inputs)>;

struct OnnxTuneOptions {
  std::string method = "percentile";  // activation ranges, as pareto quantize
  double percentile = 99.99;
  std::vector<int> threads = {1};     // thread counts every point is timed at
  int points = 6;                     // points along the greedy path, besides the anchors
  int runs = 10, warmup = 3;          // per timing (the in-process measure, and the per-node profiles);
                                      // timings run the first evaluation sample, compiled for its shapes
  // Budgets (0: none). Quality loss: relative L2 error of the outputs
  // against the float model on the evaluation samples.
  double max_latency_ms = 0, max_memory_mib = 0, max_quality_loss = 0;
  std::string objective = "latency";  // what the chosen point minimizes: latency, memory or quality
  std::string work_dir;               // where candidate files go (default: next to the output)
  TuneMeasure measure;                // null: in-process
  std::string memory_what = "activation arena";  // what TuneCost::memory_mib is, for the report
  std::function<void(const std::string& line)> progress;  // one line per step, with elapsed and remaining time
};

struct OnnxTuneLayer {
  std::string node;
  double sensitivity = 0;        // output error with only this conv in int8
  double fp32_ms = 0, int8_ms = 0;  // its node time in the all-fp32 and all-int8 models (median, first thread count)
  int order = -1;                // its place on the greedy path (-1: not on it: int8 saves no time there)
};

struct OnnxTunePoint {
  std::string label;                    // "fp32", "greedy 5", "int8 float ends", "int8 all"
  std::vector<std::string> int8_layers;  // convs in int8
  int threads = 1;
  TuneCost cost;
  double quality_loss = 0;
  bool frontier = false;       // no other point is at least as good on latency, memory and quality and better on one
  bool within_budget = false;
};

struct OnnxTuneResult {
  std::vector<OnnxTuneLayer> layers;  // every quantizable conv, in graph order
  std::vector<OnnxTunePoint> points;
  int chosen = -1;                    // index into points
  std::string reason;                 // why that one
  std::string memory_what;
  int eval_samples = 0;
  double seconds = 0;
};

// Tunes `in` on the calibration samples (ranges) and the evaluation
// samples (quality and timing input; the calibration samples when empty),
// writes the chosen point's model to `out` (the float model itself when no
// conv is int8), and reports every measured point. Fails, naming the
// budgets, when no point meets them.
Result<OnnxTuneResult> tune_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& calib,
                                       const std::vector<CalibrationSample>& eval, const OnnxTuneOptions& options = {});

}  // namespace pareto
