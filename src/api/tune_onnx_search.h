// pareto tune for ONNX CNNs, the search itself (no model is run here): the
// greedy path over conv formats, the Pareto front and the choice under the
// budgets. tune_onnx.cpp measures what these order and choose.
#pragma once
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pareto/quantize_onnx.hpp"
#include "pareto/tune.hpp"

namespace pareto::api {

// The calibration methods to search, in the order given (repeats dropped).
// A method is a range method (minmax, percentile, entropy, mse or dynamic),
// "+gptq" after it for weights rounded by GPTQ (pareto quantize --weights gptq).
std::vector<std::string> tune_method_list(const std::string& text);
bool tune_method_is_dynamic(const std::string& method);
bool tune_method_has_gptq(const std::string& method);
// Sets q's range method and weight rounding from a tune method name.
void tune_apply_method(OnnxQuantizeOptions& q, const std::string& method);

// Which conv formats besides fp32 are searched ("int8", "bf16", "int8,bf16").
struct TuneFormats {
  bool int8 = false, bf16 = false;
};
TuneFormats tune_formats(const std::string& text);

// One step of the greedy path: the convs in int8 and in bf16 after it.
struct TuneMix {
  std::vector<std::string> int8, bf16;
};

// From all fp32, each step moves the one conv to the faster format (fp32 ->
// bf16 -> int8, or fp32 -> int8) that saves the most of its node time per
// unit of added output error (sensitivities of that conv alone); a move that
// saves no time is never made. Sets each layer's `order` (the step that
// first moves it). The steps in order; the last one is where no move saves
// time any more.
std::vector<TuneMix> tune_greedy_path(std::vector<OnnxTuneLayer>& layers, const TuneFormats& formats);

// A mix as a format per layer (0 fp32, 1 bf16, 2 int8), and back.
std::vector<int> tune_formats_of(const std::vector<OnnxTuneLayer>& layers, const TuneMix& mix);
TuneMix tune_mix_of(const std::vector<OnnxTuneLayer>& layers, const std::vector<int>& formats);
std::string tune_mix_key(const std::vector<int>& formats);  // one letter per layer: f, b, 8

// The per-node cost model: the whole fp32 model's time with each conv's
// node time replaced by its time in the mix's format (the per-node profiles
// of the all-fp32, all-bf16 and all-int8 models). It ranks candidates for
// the evolutionary search and for timing; every point shown is timed.
double tune_predicted_ms(const std::vector<OnnxTuneLayer>& layers, const std::vector<int>& formats, double fp32_total_ms);

// A measured candidate as the evolutionary search sees it.
struct TuneCandidate {
  std::vector<int> formats;
  double predicted_ms = 0;
  std::vector<double> quality;  // measured, lower is better: the task metric (when given) and the output error
};

// Pareto ranks (0: the front) over predicted time and the quality measures.
std::vector<int> tune_pareto_ranks(const std::vector<TuneCandidate>& population);

// One generation: up to `count` children not in `seen` (keys; the children's
// are added), each from two parents chosen by binary tournament on Pareto
// rank, uniform crossover per conv, then one conv moved one format step
// (among the formats that conv can take). Deterministic for a given rng.
std::vector<std::vector<int>> tune_evolve(const std::vector<TuneCandidate>& population, const std::vector<OnnxTuneLayer>& layers,
                                          const TuneFormats& formats, int count, std::mt19937_64& rng, std::set<std::string>& seen);

// Marks the points no other point dominates on latency, memory, energy,
// quality loss and task metric.
void tune_mark_frontier(std::vector<OnnxTunePoint>& points);

// Marks the points within the budgets and returns the best of them by the
// objective (ties: quality loss, task metric, latency, memory, energy: so a
// point on the front); fails naming the budgets when none fits. `fp32_task`
// is the fp32 model's task metric (the task-loss budget is a rise over it).
int tune_choose(OnnxTuneResult& r, const OnnxTuneOptions& o, double fp32_task);

}  // namespace pareto::api
