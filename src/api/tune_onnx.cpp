// pareto tune for ONNX CNNs (include/pareto/tune.hpp): per-conv int8 or
// fp32 and the thread count, from points that were all quantized and run.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <unistd.h>

#include "api/guarded.h"
#include "api/median.h"
#include "core/error.h"
#include "core/split.h"
#include "pareto/tune.hpp"

namespace pareto {

namespace {

using api::median;

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

void copy_file(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (std::filesystem::equivalent(from, to, ec)) return;  // -o the input itself: opening it for writing would empty it
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  if (!in || !out) fail(StatusCode::io_error, "cannot copy " + from + " to " + to);
  out << in.rdbuf();
  if (!out) fail(StatusCode::io_error, to + ": write failed");
}

struct Tuner {
  const std::string& in;
  const std::vector<CalibrationSample>& calib;
  const std::vector<CalibrationSample>& eval;
  const OnnxTuneOptions& o;
  std::string work;
  std::vector<std::vector<Tensor>> float_outputs;  // per evaluation sample
  double t0 = now_seconds();

  // Timing sessions are compiled for the timing input's shapes (the first
  // evaluation sample's); quality sessions for any shape (the evaluation samples
  // may differ in shape: PP-OCR cls batches the lines of each image).
  SessionOptions session_options(int threads, bool profile, bool static_shapes) const {
    SessionOptions so;
    so.threads = threads;
    so.optimize = true;
    so.profile = profile;
    if (static_shapes)
      for (const auto& [name, t] : eval.front()) so.shapes[name] = t.shape();
    return so;
  }

  std::unique_ptr<Session> open(const std::string& path, int threads, bool profile = false, bool static_shapes = true) const {
    auto s = Session::open(path, session_options(threads, profile, static_shapes));
    if (!s.ok()) fail(s.status().code, s.status().message);
    return std::move(s.value());
  }

  static std::vector<Tensor> run(Session& s, const CalibrationSample& x) {
    auto r = s.run(x);
    if (!r.ok()) fail(r.status().code, r.status().message);
    return std::move(r.value());
  }

  // Writes the model with `int8` convs quantized (the others float) to path.
  void quantize(const std::string& path, const std::vector<std::string>& int8, const std::string& method,
                const std::vector<OnnxTuneLayer>& layers, bool sensitivity, OnnxQuantizeReport* report) const {
    OnnxQuantizeOptions q;
    q.method = method;
    q.percentile = o.percentile;
    q.keep_first_last = false;
    q.sensitivity = sensitivity;
    q.threads = std::max(1, o.threads.front());
    const std::set<std::string> chosen(int8.begin(), int8.end());
    for (const OnnxTuneLayer& l : layers)
      if (!chosen.count(l.node)) q.keep.push_back(l.node);
    auto r = quantize_onnx_model(in, path, calib, q);
    if (!r.ok()) fail(r.status().code, r.status().message);
    if (report) *report = r.value();
  }

  // Relative L2 of the model's outputs against the float model's over all
  // evaluation samples.
  double quality_loss(const std::string& path) const {
    auto s = open(path, o.threads.front(), false, false);
    double num = 0, den = 0;
    for (size_t i = 0; i < eval.size(); ++i) {
      const std::vector<Tensor> got = run(*s, eval[i]);
      const std::vector<Tensor>& want = float_outputs[i];
      if (got.size() != want.size()) fail_model(path + ": the tuned model has another number of outputs");
      for (size_t k = 0; k < got.size(); ++k) {
        if (got[k].numel() != want[k].numel()) fail_model(path + ": output " + std::to_string(k) + " changed size");
        for (int64_t e = 0; e < got[k].numel(); ++e) {
          const double a = got[k].as_double(e), b = want[k].as_double(e);
          num += (a - b) * (a - b);
          den += b * b;
        }
      }
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  }

  // o.warmup runs (at least one), then on until the session has chosen
  // which nodes run on one thread: timings are of the steady state.
  void warm_up(Session& s) const {
    auto r = s.warm_up(eval.front(), std::max(1, o.warmup));
    if (!r.ok()) fail(r.status().code, r.status().message);
  }

  TuneCost measure(const std::string& path, int threads) const {
    if (o.measure) return o.measure(path, threads, eval.front());
    auto s = open(path, threads);
    warm_up(*s);
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, o.runs); ++i) {
      const double t = now_seconds();
      run(*s, eval.front());
      ms.push_back(1e3 * (now_seconds() - t));
    }
    return {median(ms), double(s->memory().arena_bytes) / (1 << 20)};
  }

  // Median time per top-level node over the timed runs.
  std::map<std::string, double> node_ms(const std::string& path) const {
    auto s = open(path, o.threads.front(), true);
    warm_up(*s);
    std::map<std::string, std::vector<double>> times;
    for (int i = 0; i < std::max(1, o.runs); ++i) {
      run(*s, eval.front());
      for (const ProfileEntry& e : s->take_profile())
        if (e.depth == 0) times[e.node_name].push_back(1e3 * e.seconds);
    }
    std::map<std::string, double> out;
    for (auto& [name, v] : times) out[name] = median(v);
    return out;
  }

  // One line per step; the estimate of what is left once the step count is known (total > 0).
  void progress(size_t done, size_t total, const std::string& what) const {
    if (!o.progress) return;
    const double elapsed = now_seconds() - t0;
    char line[512];
    if (total == 0) std::snprintf(line, sizeof line, "[%zu] %s (%.0f s elapsed)", done, what.c_str(), elapsed);
    else
      std::snprintf(line, sizeof line, "[%zu/%zu] %s (%.0f s elapsed, about %.0f s left)", done, total, what.c_str(), elapsed,
                    elapsed / double(done) * double(total - done));
    o.progress(line);
  }
};

// The calibration methods to search, in the order given.
std::vector<std::string> method_list(const std::string& text) {
  static const std::set<std::string> known = {"minmax", "percentile", "entropy", "mse"};
  std::vector<std::string> out;
  for (std::string m : split_at(text, ',')) {
    m.erase(0, m.find_first_not_of(' '));  // "minmax, percentile" as well
    m.erase(m.find_last_not_of(' ') + 1);
    if (!known.count(m)) fail_argument("calibration method must be minmax, percentile, entropy or mse, got '" + m + "'");
    if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
  }
  return out;
}

// Convs in the order the greedy path adds them: most time saved per unit
// of output error first; convs int8 makes no faster stay off the path.
std::vector<std::string> greedy_order(std::vector<OnnxTuneLayer>& layers) {
  std::vector<size_t> idx;
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].fp32_ms - layers[i].int8_ms > 0) idx.push_back(i);
  auto score = [&](size_t i) { return (layers[i].fp32_ms - layers[i].int8_ms) / std::max(layers[i].sensitivity, 1e-9); };
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return score(a) > score(b); });
  std::vector<std::string> order;
  for (size_t k = 0; k < idx.size(); ++k) {
    layers[idx[k]].order = int(k);
    order.push_back(layers[idx[k]].node);
  }
  return order;
}

void mark_frontier(std::vector<OnnxTunePoint>& points) {
  for (OnnxTunePoint& p : points) {
    p.frontier = true;
    for (const OnnxTunePoint& q : points) {
      const bool no_worse = q.cost.latency_ms <= p.cost.latency_ms && q.cost.memory_mib <= p.cost.memory_mib && q.quality_loss <= p.quality_loss;
      const bool better = q.cost.latency_ms < p.cost.latency_ms || q.cost.memory_mib < p.cost.memory_mib || q.quality_loss < p.quality_loss;
      if (&q != &p && no_worse && better) p.frontier = false;
    }
  }
}

std::string budgets_text(const OnnxTuneOptions& o) {
  std::string s;
  auto add = [&](const char* what, double v, const char* unit) {
    if (v <= 0) return;
    char b[96];
    std::snprintf(b, sizeof b, "%s%s <= %g%s", s.empty() ? "" : ", ", what, v, unit);
    s += b;
  };
  add("latency", o.max_latency_ms, " ms");
  add("memory", o.max_memory_mib, " MiB");
  add("quality loss", o.max_quality_loss, "");
  return s.empty() ? "no budgets" : s;
}

// The point the budgets allow that is best by the objective (ties: lower
// quality loss, then latency, then memory: so always a point on the front).
int choose(OnnxTuneResult& r, const OnnxTuneOptions& o) {
  auto key = [&](const OnnxTunePoint& p) {
    return o.objective == "memory" ? p.cost.memory_mib : o.objective == "quality" ? p.quality_loss : p.cost.latency_ms;
  };
  int best = -1;
  for (size_t i = 0; i < r.points.size(); ++i) {
    OnnxTunePoint& p = r.points[i];
    p.within_budget = (o.max_latency_ms <= 0 || p.cost.latency_ms <= o.max_latency_ms) && (o.max_memory_mib <= 0 || p.cost.memory_mib <= o.max_memory_mib) &&
                      (o.max_quality_loss <= 0 || p.quality_loss <= o.max_quality_loss);
    if (!p.within_budget) continue;
    if (best < 0) {
      best = int(i);
      continue;
    }
    const OnnxTunePoint& b = r.points[size_t(best)];
    // Every measure in the comparison: a point another point dominates is never the first.
    if (std::make_tuple(key(p), p.quality_loss, p.cost.latency_ms, p.cost.memory_mib) <
        std::make_tuple(key(b), b.quality_loss, b.cost.latency_ms, b.cost.memory_mib))
      best = int(i);
  }
  int within = 0;
  for (const OnnxTunePoint& p : r.points) within += p.within_budget;
  if (best < 0) {
    double lat = 1e300, mem = 1e300, loss = 1e300;
    for (const OnnxTunePoint& p : r.points) lat = std::min(lat, p.cost.latency_ms), mem = std::min(mem, p.cost.memory_mib), loss = std::min(loss, p.quality_loss);
    char b[256];
    std::snprintf(b, sizeof b, " (the best measured: latency %.3g ms, memory %.3g MiB, quality loss %.3g, not all in one point)", lat, mem, loss);
    fail_argument("no measured point meets the budgets: " + budgets_text(o) + b);
  }
  char why[256];
  std::snprintf(why, sizeof why, "lowest %s among the %d of %zu measured points within %s", o.objective.c_str(), within, r.points.size(),
                budgets_text(o).c_str());
  r.reason = why;
  return best;
}

}  // namespace

Result<OnnxTuneResult> tune_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& calib,
                                       const std::vector<CalibrationSample>& eval_in, const OnnxTuneOptions& options) {
  return guarded([&] {
    if (calib.empty()) fail_argument("tune needs calibration samples");
    if (options.threads.empty()) fail_argument("tune needs at least one thread count");
    for (int t : options.threads)
      if (t < 1 || t > 1024) fail_argument("thread counts must be 1 to 1024, got " + std::to_string(t));
    if (options.objective != "latency" && options.objective != "memory" && options.objective != "quality")
      fail_argument("objective must be latency, memory or quality, got '" + options.objective + "'");
    if (options.points < 0 || options.points > 64) fail_argument("points must be 0 to 64");
    if (!(options.time_budget_s >= 0)) fail_argument("the time budget must be 0 (none) or more seconds");
    const std::vector<std::string> methods = method_list(options.method);
    const std::vector<CalibrationSample>& eval = eval_in.empty() ? calib : eval_in;
    Tuner t{in, calib, eval, options, options.work_dir.empty() ? dir_of(out) : options.work_dir, {}, now_seconds()};
    OnnxTuneResult r;
    r.memory_what = options.memory_what;
    r.eval_samples = int(eval.size());
    {
      auto f = t.open(in, options.threads.front(), false, false);
      for (const CalibrationSample& x : eval) t.float_outputs.push_back(Tuner::run(*f, x));
    }
    // 1. Every quantizable conv: its sensitivity, and its node time in fp32 and in int8.
    // Candidate files named by process: two tunes may share an output folder.
    const std::string stem = t.work + "/.tune-" + std::to_string(getpid()) + "-";
    const std::string all_path = stem + "int8-all.onnx";
    struct RemovedAtExit {  // also when a step fails
      std::vector<std::string> paths;
      ~RemovedAtExit() {
        for (const std::string& p : paths) std::remove(p.c_str());
      }
    } cleanup{{all_path, stem + "candidate.onnx"}};
    OnnxQuantizeReport all;
    {
      OnnxQuantizeOptions q;  // every conv int8 (grouped ones stay out, as in pareto quantize)
      q.method = methods.front(), q.percentile = options.percentile, q.keep_first_last = false, q.sensitivity = true;
      q.threads = options.threads.front();
      auto rep = quantize_onnx_model(in, all_path, calib, q);
      if (!rep.ok()) fail(rep.status().code, rep.status().message);
      all = rep.value();
    }
    for (const OnnxLayerReport& l : all.layers)
      if (l.quantized) r.layers.push_back({l.node, l.sensitivity, 0, 0, -1});
    // pareto quantize's default keeps its end layers float (the first conv, and convs no weighted layer follows).
    // (With fuse_quantize the rounding of an int8 conv's input may be timed on the depthwise conv before it:
    // per-node gains order the search only; the chosen mix is measured end to end.)
    std::set<std::string> end_layers;
    for (const OnnxLayerReport& l : all.layers)
      if (l.end_layer) end_layers.insert(l.node);
    if (r.layers.empty()) fail_argument(in + ": no conv that int8 can serve");
    t.progress(1, 0, "sensitivity of " + std::to_string(r.layers.size()) + " convs");
    const std::map<std::string, double> fp32_ms = t.node_ms(in), int8_ms = t.node_ms(all_path);
    for (OnnxTuneLayer& l : r.layers) {
      auto a = fp32_ms.find(l.node), b = int8_ms.find(l.node);
      l.fp32_ms = a == fp32_ms.end() ? 0 : a->second;
      l.int8_ms = b == int8_ms.end() ? 0 : b->second;
    }
    t.progress(2, 0, "per-node times in fp32 and int8");
    // 2. The candidates: the anchors and points spread along the greedy path,
    // for each calibration method.
    const std::vector<std::string> order = greedy_order(r.layers);
    struct Config {
      std::string label, method;
      std::vector<std::string> int8;
      bool anchor = true;  // measured whatever the time budget
    };
    std::vector<Config> configs;
    std::set<std::pair<std::string, std::set<std::string>>> seen;  // each (method, int8 convs) measured once (anchors keep their names)
    auto add = [&](const std::string& label, const std::string& method, const std::vector<std::string>& int8, bool anchor = true) {
      if (seen.insert({method, std::set<std::string>(int8.begin(), int8.end())}).second)
        configs.push_back({label + (methods.size() > 1 && !int8.empty() ? " " + method : ""), method, int8, anchor});
    };
    std::vector<std::string> ends, every;
    for (const OnnxTuneLayer& l : r.layers) {
      every.push_back(l.node);
      if (!end_layers.count(l.node)) ends.push_back(l.node);
    }
    add("fp32", "", {});
    std::set<size_t> sizes;
    for (int k = 1; k <= options.points && !order.empty(); ++k) sizes.insert(std::max<size_t>(1, order.size() * size_t(k) / size_t(options.points)));
    for (const std::string& m : methods) {
      if (!ends.empty()) add("int8 float ends", m, ends);
      add("int8 all", m, every);
    }
    // The anchors of every method first (a time budget cuts greedy points
    // only), then the greedy points with the methods in turn (a tight budget
    // leaves no method out entirely).
    for (size_t n : sizes)
      for (const std::string& m : methods) add("greedy " + std::to_string(n), m, std::vector<std::string>(order.begin(), order.begin() + long(n)), false);
    // 3. Each one quantized, its quality measured, and timed at every thread count.
    const size_t total = 2 + configs.size();
    for (size_t c = 0; c < configs.size(); ++c) {
      const auto& [label, method, int8, anchor] = configs[c];
      if (!anchor && options.time_budget_s > 0 && now_seconds() - t.t0 > options.time_budget_s) {
        r.skipped_by_budget = int(configs.size() - c);
        t.progress(3 + c, 0, "time budget spent: " + std::to_string(r.skipped_by_budget) + " greedy candidates left unmeasured");
        break;
      }
      const std::string path = int8.empty() ? in : stem + "candidate.onnx";
      if (!int8.empty()) t.quantize(path, int8, method, r.layers, false, nullptr);
      const double loss = int8.empty() ? 0.0 : t.quality_loss(path);
      std::string line = label + ": loss " + std::to_string(loss);
      for (int threads : options.threads) {
        OnnxTunePoint p;
        p.label = label, p.int8_layers = int8, p.method = method, p.threads = threads, p.quality_loss = loss;
        p.cost = t.measure(path, threads);
        line += ", " + std::to_string(threads) + "t " + std::to_string(p.cost.latency_ms) + " ms";
        r.points.push_back(std::move(p));
      }
      t.progress(3 + c, total, line);
    }
    // 4. The front, the choice, and the chosen model written.
    mark_frontier(r.points);
    r.chosen = choose(r, options);
    const OnnxTunePoint& best = r.points[size_t(r.chosen)];
    if (best.int8_layers.empty()) copy_file(in, out);
    else t.quantize(out, best.int8_layers, best.method, r.layers, false, nullptr);
    r.seconds = now_seconds() - t.t0;
    return r;
  });
}

}  // namespace pareto
