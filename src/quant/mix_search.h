// The search of pareto tune over per-tensor formats, apart from any model:
// a space (tensors, candidate formats, the bytes of each choice) and a
// measure (the quality of a whole mix, run for real). Steps:
//   1. sensitivity: the KL with one tensor in one format and all others as
//      in the source, for every pair;
//   2. a greedy path from every tensor in the widest format down to every
//      tensor in the narrowest, each step the move that saves the most
//      bytes per unit of predicted KL (sensitivities taken as additive);
//      with a cost model (MixSpace::ms), a second path whose every step
//      saves the most predicted decode time per unit of KL (a smaller
//      format that is no faster is no step on it);
//   3. points spread along that path by bits per weight, measured;
//   4. an evolutionary multi-objective search (bits per weight, measured
//      KL and, with the cost model, predicted decode time) seeded with the
//      measured points: tournament on Pareto rank,
//      uniform crossover, one-step format mutations; seeded, so the same
//      seed, budget and predicted times (the cost model's, measured: kept
//      in pareto tune's cache) give the same points.
// Every point it returns was measured; the predictions only order moves
// and rank parents.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "quant/llm_mix.h"

namespace pareto::quant {

struct MixSpace {
  size_t tensors = 0;
  std::vector<uint32_t> formats;  // candidate types, widest first
  std::function<uint64_t(size_t tensor, uint32_t type)> bytes;
  uint64_t weights = 0;           // number of weights (for bits per weight)
  Mix source;                     // the unquantized model (sensitivity's background)
  // Whether a tensor may take a format (GPTQ choices: layer matrices only); null: every one.
  std::function<bool(size_t tensor, uint32_t type)> allowed;
  // A tensor's predicted share of one decoded token's time in a format
  // (the cost model); null: no greedy path by time and no time objective
  // in the evolution.
  std::function<double(size_t tensor, uint32_t type)> ms;
  bool allows(size_t tensor, uint32_t type) const { return !allowed || allowed(tensor, type); }
};

struct MeasuredMix {
  Mix mix;
  std::string label;  // "uniform q4_0", "greedy 3", "evolved g2"
  double bpw = 0;
  MixQuality quality;
};

using MixMeasure = std::function<MixQuality(const Mix& mix)>;

struct MixSearchOptions {
  int points = 8;          // measured points along the greedy path
  int time_points = 0;     // measured points along a second greedy path by time saved per KL (needs MixSpace::ms)
  std::vector<double> target_bpw;  // also the path's point with the most bits within each (anchors' sizes)
  int generations = 8;     // evolutionary rounds (0: none)
  int population = 16;     // children per round
  uint64_t seed = 1;
  double time_budget_s = 0;  // stop evolving once the search has run this long (0: no limit)
  std::function<void(const std::string& step, int done, int total)> progress;
};

struct MixSearchResult {
  std::vector<std::vector<double>> sensitivity;  // [tensor][format]: KL with only it in that format (NaN: not allowed)
  std::vector<MeasuredMix> points;               // every measured mix, in the order measured
  std::vector<Mix> path;                         // the greedy path (predicted only), widest first
  std::vector<Mix> time_path;                    // the greedy path by time (with time_points), slowest first
  int generations_run = 0;
  bool stopped_by_budget = false;
};

double mix_bpw(const MixSpace& space, const Mix& mix);
// The sum of MixSpace::ms over the mix's tensors (0 without a cost model).
double mix_ms(const MixSpace& space, const Mix& mix);
std::string mix_key(const Mix& mix);

// Pareto ranks over any number of objectives, each smaller-is-better
// (objectives[k][i]: objective k of point i): 0 for the points no other
// beats (as good on every objective, better on one), 1 for the front of
// the rest, and so on. The evolution's tournament ranks by it.
std::vector<int> front_ranks(const std::vector<std::vector<double>>& objectives);

// Indices of the points no other point beats on both x and y (at least as
// good on both, better on one); bpw_kl_front: x bits per weight, y KL.
std::vector<size_t> xy_front(const std::vector<double>& x, const std::vector<double>& y);
std::vector<size_t> bpw_kl_front(const std::vector<MeasuredMix>& points);

// Runs steps 1-4. `seeds` are points measured already (uniform formats, llama.cpp's mixes):
// they come first in the result's points and join the evolutionary population.
MixSearchResult search_mixes(const MixSpace& space, const MixMeasure& measure, const std::vector<MeasuredMix>& seeds,
                             const MixSearchOptions& options);

// The search points (pts from first_searched on; predicted_ms per point of
// pts) pareto tune times: at most `cap` spread over the bits-KL front
// (half) and the predicted-ms-KL front (the other half), plus for each
// target size (anchors, the bits budget) the bits front's point with the
// least KL within it, and for each target KL (anchors, the KL budget) the
// smallest point and the kFastestWithinKl points of least predicted time
// within it: the choice and the comparisons with the anchors are made
// among timed points, so these must be.
constexpr int kFastestWithinKl = 3;
std::vector<size_t> points_to_time(const std::vector<MeasuredMix>& pts, size_t first_searched, int cap, const std::vector<double>& predicted_ms,
                                   const std::vector<double>& anchor_bpw, const std::vector<double>& anchor_kl, double max_kl);

}  // namespace pareto::quant
