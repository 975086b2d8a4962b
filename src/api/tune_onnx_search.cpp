// pareto tune for ONNX CNNs: the greedy path, the front and the choice
// (tune_onnx_search.h).
#include "api/tune_onnx_search.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <tuple>

#include "core/error.h"
#include "core/split.h"
#include "quant/mix_search.h"

namespace pareto::api {

namespace {

std::string trimmed(std::string s) {
  s.erase(0, s.find_first_not_of(' '));  // "minmax, percentile" as well
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

// The formats a conv can take, as (node time, its own output error).
struct Choice {
  int format;  // 0 fp32, 1 bf16, 2 int8
  double ms, error;
};

// Can the layer take this format (0 fp32, 1 bf16, 2 int8)? A bf16 output
// exactly the fp32 one means the kernel kept the conv in f32 (Winograd,
// too small a GEMM): not a choice.
bool allowed(const OnnxTuneLayer& l, const TuneFormats& f, int format) {
  return format == 0 || (format == 1 && f.bf16 && l.bf16_sensitivity > 0) || (format == 2 && f.int8);
}

std::vector<Choice> choices(const OnnxTuneLayer& l, const TuneFormats& f) {
  std::vector<Choice> c{{0, l.fp32_ms, 0.0}};
  if (allowed(l, f, 1)) c.push_back({1, l.bf16_ms, l.bf16_sensitivity});
  if (allowed(l, f, 2)) c.push_back({2, l.int8_ms, l.sensitivity});
  return c;
}

// The measures a point is compared on (the task metric only when measured).
std::vector<double> measures(const OnnxTunePoint& p) {
  return {p.cost.latency_ms, p.cost.memory_mib, p.energy_mj, p.quality_loss, p.task_metric};
}

std::string budgets_text(const OnnxTuneOptions& o) {
  std::string s;
  auto add = [&](const char* what, double v, const char* unit) {
    char b[128];
    std::snprintf(b, sizeof b, "%s%s <= %g%s", s.empty() ? "" : ", ", what, v, unit);
    s += b;
  };
  if (o.max_latency_ms > 0) add("latency", o.max_latency_ms, " ms");
  if (o.max_memory_mib > 0) add("memory", o.max_memory_mib, " MiB");
  if (o.max_energy_mj > 0) add("energy", o.max_energy_mj, " mJ");
  if (o.max_quality_loss > 0) add("quality loss", o.max_quality_loss, "");
  if (o.task_metric && (o.max_task_loss > 0 || o.max_task_loss_set)) add((o.task_metric_name + " rise over fp32").c_str(), o.max_task_loss, "");
  return s.empty() ? "no budgets" : s;
}

constexpr const char* kGptqSuffix = "+gptq";

bool has_gptq_suffix(const std::string& m) { return m.size() > 5 && m.compare(m.size() - 5, 5, kGptqSuffix) == 0; }
std::string range_method(const std::string& m) { return has_gptq_suffix(m) ? m.substr(0, m.size() - 5) : m; }

}  // namespace

bool tune_method_is_dynamic(const std::string& method) { return range_method(method) == "dynamic"; }
bool tune_method_has_gptq(const std::string& method) { return has_gptq_suffix(method); }

void tune_apply_method(OnnxQuantizeOptions& q, const std::string& method) {
  q.method = range_method(method);
  q.gptq = has_gptq_suffix(method);
}

std::vector<std::string> tune_method_list(const std::string& text) {
  static const std::set<std::string> known = {"minmax", "percentile", "entropy", "mse", "dynamic"};
  std::vector<std::string> out;
  for (const std::string& part : split_at(text, ',')) {
    const std::string m = trimmed(part);
    if (!known.count(range_method(m)))
      fail_argument("calibration method must be minmax, percentile, entropy, mse or dynamic, each with +gptq or not, got '" + m + "'");
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

TuneFormats tune_formats(const std::string& text) {
  TuneFormats f;
  for (const std::string& part : split_at(text, ',')) {
    const std::string m = trimmed(part);
    if (m == "int8") f.int8 = true;
    else if (m == "bf16") f.bf16 = true;
    else fail_argument("conv formats must be int8 and/or bf16, got '" + m + "'");
  }
  if (!f.int8 && !f.bf16) fail_argument("tune needs a conv format to search (int8, bf16)");
  return f;
}

std::vector<TuneMix> tune_greedy_path(std::vector<OnnxTuneLayer>& layers, const TuneFormats& formats) {
  std::vector<int> state(layers.size(), 0);  // the index into that layer's choices (0: fp32)
  std::vector<std::vector<Choice>> options;
  for (const OnnxTuneLayer& l : layers) options.push_back(choices(l, formats));
  for (OnnxTuneLayer& l : layers) l.order = -1;
  std::vector<TuneMix> path;
  for (;;) {
    size_t best_layer = 0;
    int best_choice = -1;
    double best_score = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      const Choice& now = options[i][size_t(state[i])];
      for (size_t c = 0; c < options[i].size(); ++c) {
        const Choice& to = options[i][c];
        // Only towards int8 (formats in order); and only a move that saves time.
        if (to.format <= now.format || !(to.ms < now.ms)) continue;
        const double score = (now.ms - to.ms) / std::max(to.error - now.error, 1e-9);
        if (best_choice < 0 || score > best_score) best_layer = i, best_choice = int(c), best_score = score;
      }
    }
    if (best_choice < 0) break;
    state[best_layer] = best_choice;
    if (layers[best_layer].order < 0) layers[best_layer].order = int(path.size());
    std::vector<int> formats(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) formats[i] = options[i][size_t(state[i])].format;
    path.push_back(tune_mix_of(layers, formats));
  }
  return path;
}

std::vector<int> tune_formats_of(const std::vector<OnnxTuneLayer>& layers, const TuneMix& mix) {
  const std::set<std::string> int8(mix.int8.begin(), mix.int8.end()), bf16(mix.bf16.begin(), mix.bf16.end());
  std::vector<int> f;
  for (const OnnxTuneLayer& l : layers) f.push_back(int8.count(l.node) ? 2 : bf16.count(l.node) ? 1 : 0);
  return f;
}

TuneMix tune_mix_of(const std::vector<OnnxTuneLayer>& layers, const std::vector<int>& formats) {
  TuneMix m;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (formats[i] == 2) m.int8.push_back(layers[i].node);
    if (formats[i] == 1) m.bf16.push_back(layers[i].node);
  }
  return m;
}

std::string tune_mix_key(const std::vector<int>& formats) {
  std::string k;
  for (int f : formats) k += f == 2 ? '8' : f == 1 ? 'b' : 'f';
  return k;
}

double tune_predicted_ms(const std::vector<OnnxTuneLayer>& layers, const std::vector<int>& formats, double fp32_total_ms) {
  double ms = fp32_total_ms;
  for (size_t i = 0; i < layers.size(); ++i)
    ms += (formats[i] == 2 ? layers[i].int8_ms : formats[i] == 1 ? layers[i].bf16_ms : layers[i].fp32_ms) - layers[i].fp32_ms;
  return ms;
}

std::vector<int> tune_pareto_ranks(const std::vector<TuneCandidate>& population) {
  std::vector<std::vector<double>> objectives(1);  // predicted ms, then each quality measure
  for (const TuneCandidate& c : population) {
    objectives[0].push_back(c.predicted_ms);
    if (objectives.size() < 1 + c.quality.size()) objectives.resize(1 + c.quality.size());
    for (size_t k = 0; k < c.quality.size(); ++k) objectives[1 + k].push_back(c.quality[k]);
  }
  for (const std::vector<double>& o : objectives)
    if (o.size() != population.size()) fail(StatusCode::internal, "tune candidates with different quality measures");
  return quant::front_ranks(objectives);
}

std::vector<std::vector<int>> tune_evolve(const std::vector<TuneCandidate>& population, const std::vector<OnnxTuneLayer>& layers,
                                          const TuneFormats& formats, int count, std::mt19937_64& rng, std::set<std::string>& seen) {
  std::vector<std::vector<int>> children;
  if (population.empty() || layers.empty()) return children;
  const std::vector<int> rank = tune_pareto_ranks(population);
  auto pick = [&]() -> const std::vector<int>& {
    const size_t a = size_t(rng() % population.size()), b = size_t(rng() % population.size());
    return population[rank[b] < rank[a] ? b : a].formats;
  };
  // Bounded attempts: a small space may have fewer new mixes than asked for.
  for (int attempt = 0; attempt < 20 * count && int(children.size()) < count; ++attempt) {
    const std::vector<int>& p1 = pick();
    const std::vector<int>& p2 = pick();
    std::vector<int> child(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) child[i] = rng() % 2 ? p1[i] : p2[i];
    const size_t i = size_t(rng() % layers.size());
    const int step = rng() % 2 ? 1 : -1;
    for (int to = child[i] + step; to >= 0 && to <= 2; to += step)
      if (allowed(layers[i], formats, to)) {
        child[i] = to;
        break;
      }
    if (seen.insert(tune_mix_key(child)).second) children.push_back(std::move(child));
  }
  return children;
}

void tune_mark_frontier(std::vector<OnnxTunePoint>& points) {
  std::vector<std::vector<double>> objectives;  // [measure][point]
  for (const OnnxTunePoint& p : points) {
    const std::vector<double> m = measures(p);
    objectives.resize(m.size());
    for (size_t k = 0; k < m.size(); ++k) objectives[k].push_back(m[k]);
  }
  const std::vector<int> rank = quant::front_ranks(objectives);
  for (size_t i = 0; i < points.size(); ++i) points[i].frontier = rank[i] == 0;
}

int tune_choose(OnnxTuneResult& r, const OnnxTuneOptions& o, double fp32_task) {
  auto key = [&](const OnnxTunePoint& p) {
    return o.objective == "memory" ? p.cost.memory_mib : o.objective == "energy" ? p.energy_mj : o.objective == "quality" ? p.quality_loss
           : o.objective == "task"   ? p.task_metric
                                     : p.cost.latency_ms;
  };
  const bool task_budget = o.task_metric && (o.max_task_loss > 0 || o.max_task_loss_set);
  int best = -1;
  for (size_t i = 0; i < r.points.size(); ++i) {
    OnnxTunePoint& p = r.points[i];
    p.within_budget = (o.max_latency_ms <= 0 || p.cost.latency_ms <= o.max_latency_ms) && (o.max_memory_mib <= 0 || p.cost.memory_mib <= o.max_memory_mib) &&
                      (o.max_energy_mj <= 0 || p.energy_mj <= o.max_energy_mj) && (o.max_quality_loss <= 0 || p.quality_loss <= o.max_quality_loss) &&
                      (!task_budget || p.task_metric - fp32_task <= o.max_task_loss + 1e-12);
    if (!p.within_budget) continue;
    if (best < 0) {
      best = int(i);
      continue;
    }
    const OnnxTunePoint& b = r.points[size_t(best)];
    // Every measure in the comparison: a point another point dominates is never the first.
    if (std::make_tuple(key(p), p.quality_loss, p.task_metric, p.cost.latency_ms, p.cost.memory_mib, p.energy_mj) <
        std::make_tuple(key(b), b.quality_loss, b.task_metric, b.cost.latency_ms, b.cost.memory_mib, b.energy_mj))
      best = int(i);
  }
  int within = 0;
  for (const OnnxTunePoint& p : r.points) within += p.within_budget;
  if (best < 0) {
    double lat = 1e300, mem = 1e300, loss = 1e300, task = 1e300;
    for (const OnnxTunePoint& p : r.points)
      lat = std::min(lat, p.cost.latency_ms), mem = std::min(mem, p.cost.memory_mib), loss = std::min(loss, p.quality_loss), task = std::min(task, p.task_metric);
    char b[320];
    std::snprintf(b, sizeof b, " (the best measured: latency %.3g ms, memory %.3g MiB, quality loss %.3g%s, not all in one point)", lat, mem, loss,
                  o.task_metric ? (", " + o.task_metric_name + " " + std::to_string(task)).c_str() : "");
    fail_argument("no measured point meets the budgets: " + budgets_text(o) + b);
  }
  char why[320];
  std::snprintf(why, sizeof why, "lowest %s among the %d of %zu measured points within %s",
                o.objective == "task" ? o.task_metric_name.c_str() : o.objective.c_str(), within, r.points.size(), budgets_text(o).c_str());
  r.reason = why;
  return best;
}

}  // namespace pareto::api
