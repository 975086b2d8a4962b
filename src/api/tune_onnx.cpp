// pareto tune for ONNX CNNs (include/pareto/tune.hpp): per-conv int8, bf16
// or fp32 and the thread count, from points that were all quantized and run
// (the search itself: tune_onnx_search.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/guarded.h"
#include "api/median.h"
#include "api/tune_cache.h"
#include "api/tune_onnx_search.h"
#include "core/error.h"
#include "kernels/dispatch.h"
#include "pareto/profile.hpp"
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

// A candidate: which convs are int8 (and their ranges' method) and which bf16.
struct Mix {
  std::string label, method;
  std::vector<std::string> int8, bf16;
  bool anchor = true;  // measured whatever the time budget
};

// The files a candidate is run from.
struct CandidateFiles {
  std::string model;  // quality and the task metric: any input shape (the ONNX file, or a compiled .pareto)
  std::string timed;  // timing: compiled for the timing input's shapes (a .pareto), or the ONNX file (bench binds the shapes)
};

struct Tuner {
  const std::string& in;
  const std::vector<CalibrationSample>& calib;
  const std::vector<CalibrationSample>& eval;
  const OnnxTuneOptions& o;
  bool compiled;     // bf16 searched: every candidate is compiled (.pareto)
  std::string stem;  // candidate files: stem + "candidate.onnx" ...
  std::vector<std::vector<Tensor>> float_outputs;  // per evaluation sample
  double t0 = now_seconds();

  // Timing sessions are compiled for the timing input's shapes (the first
  // evaluation sample's); quality sessions for any shape (the evaluation samples
  // may differ in shape: PP-OCR cls batches the lines of each image).
  SessionOptions session_options(int threads, bool profile, bool static_shapes, const std::vector<std::string>& bf16 = {}) const {
    SessionOptions so;
    so.threads = threads;
    so.optimize = true;
    so.profile = profile;
    if (static_shapes)
      for (const auto& [name, t] : eval.front()) so.shapes[name] = t.shape();
    if (!bf16.empty()) {
      so.conv_precision = "bf16";
      so.precision_only = bf16;
    }
    return so;
  }

  static std::unique_ptr<Session> open(const std::string& path, const SessionOptions& so) {
    auto s = Session::open(path, so);
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
                const std::vector<OnnxTuneLayer>& layers) const {
    OnnxQuantizeOptions q;
    q.method = method;
    q.percentile = o.percentile;
    q.keep_first_last = false;
    q.threads = std::max(1, o.threads.front());
    const std::set<std::string> chosen(int8.begin(), int8.end());
    for (const OnnxTuneLayer& l : layers)
      if (!chosen.count(l.node)) q.keep.push_back(l.node);
    auto r = quantize_onnx_model(in, path, calib, q);
    if (!r.ok()) fail(r.status().code, r.status().message);
  }

  // The ONNX file compiled (bf16 convs marked) into a .pareto artifact.
  void compile(const std::string& onnx, const std::vector<std::string>& bf16, bool static_shapes, const std::string& path) const {
    SessionOptions so = session_options(1, false, static_shapes, bf16);
    so.prepack_weights = true;
    const Status st = open(onnx, so)->save(path);
    if (!st.ok()) fail(st.code, st.message);
  }

  // The candidate written as it will be run: quantized, and compiled when bf16 is searched.
  CandidateFiles materialize(const Mix& m, const std::vector<OnnxTuneLayer>& layers, const std::string& name) const {
    const std::string onnx = m.int8.empty() ? in : stem + name + ".onnx";
    if (!m.int8.empty()) quantize(onnx, m.int8, m.method, layers);
    if (!compiled) return {onnx, onnx};
    CandidateFiles f{stem + name + ".pareto", stem + name + "-timed.pareto"};
    compile(onnx, m.bf16, false, f.model);
    compile(onnx, m.bf16, true, f.timed);
    return f;
  }

  // Relative L2 of the outputs against the float model's over all evaluation samples.
  double quality_loss(const std::string& path, const std::vector<std::string>& bf16 = {}) const {
    auto s = open(path, session_options(o.threads.front(), false, false, bf16));
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
    auto s = open(path, session_options(threads, false, true));
    warm_up(*s);
    std::vector<double> ms;
    for (int i = 0; i < std::max(1, o.runs); ++i) {
      const double t = now_seconds();
      run(*s, eval.front());
      ms.push_back(1e3 * (now_seconds() - t));
    }
    return {median(ms), double(s->memory().arena_bytes) / (1 << 20)};
  }

  // Estimated mJ per inference: the profiler's device model over a few
  // profiled runs of the timing model (docs/ENERGY.md).
  double energy_mj(const std::string& path, int threads) const {
    auto s = open(path, session_options(threads, true, true));
    ProfileOptions po;
    po.runs = 3;
    po.warmup = std::max(1, o.warmup);
    po.measure_ceilings = false;
    auto r = profile_session(*s, path, eval.front(), po);
    if (!r.ok()) fail(r.status().code, r.status().message);
    const nlohmann::json j = nlohmann::json::parse(r.value());
    return j.at("summary").at("energy_mj").at("total").get<double>();
  }

  // Median time per top-level node over the timed runs.
  std::map<std::string, double> node_ms(const std::string& path, const std::vector<std::string>& bf16 = {}) const {
    auto s = open(path, session_options(o.threads.front(), true, true, bf16));
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

// What a measured quality depends on: the model file, the calibration and
// evaluation samples, the quantizer's percentile, the kernels (bf16 and int8
// arithmetic differ per ISA) and what the task metric reads.
std::string fingerprint(const std::string& in, const std::vector<CalibrationSample>& calib, const std::vector<CalibrationSample>& eval,
                        const OnnxTuneOptions& o) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the samples' names, shapes and bytes
  auto add = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  };
  for (const auto* set : {&calib, &eval}) {
    for (const CalibrationSample& x : *set)
      for (const auto& [name, tensor] : x) {
        add(name.data(), name.size());
        add(tensor.shape().data(), tensor.shape().size() * sizeof(int64_t));
        add(tensor.raw(), tensor.nbytes());
      }
    add("|", 1);
  }
  return "tune-onnx-v1|" + api::file_identity(in) + "|" + std::to_string(h) + "|" + std::to_string(o.percentile) + "|" + kernels::kernel_summary() + "|" +
         (o.task_metric ? o.task_metric_name + "|" + o.task_metric_key : "no task");
}

bool ends_with(const std::string& s, const std::string& tail) { return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0; }

void check_options(const OnnxTuneOptions& o, const std::string& out, bool bf16) {
  if (o.threads.empty()) fail_argument("tune needs at least one thread count");
  for (int t : o.threads)
    if (t < 1 || t > 1024) fail_argument("thread counts must be 1 to 1024, got " + std::to_string(t));
  static const std::set<std::string> objectives = {"latency", "memory", "energy", "quality", "task"};
  if (!objectives.count(o.objective)) fail_argument("objective must be latency, memory, energy, quality or task, got '" + o.objective + "'");
  if (o.objective == "task" && !o.task_metric) fail_argument("the task objective needs a task metric");
  if (!o.energy && (o.max_energy_mj > 0 || o.objective == "energy")) fail_argument("an energy budget or objective needs the energy estimate (it is off)");
  if (o.points < 0 || o.points > 64) fail_argument("points must be 0 to 64");
  if (o.rounds < 1 || o.rounds > 100) fail_argument("timing rounds must be 1 to 100");
  if (o.generations < 0 || o.generations > 1000 || o.population < 0 || o.population > 1000 || o.max_timed < 0 || o.max_timed > 256)
    fail_argument("generations and population must be 0 to 1000, max timed 0 to 256");
  if (!(o.time_budget_s >= 0)) fail_argument("the time budget must be 0 (none) or more seconds");
  if (!(o.max_task_loss >= 0)) fail_argument("the task-loss budget must be 0 or more");
  if (bf16 && !ends_with(out, ".pareto"))
    fail_argument("bf16 convs are written in a compiled model: give an output ending in .pareto (got '" + out + "')");
}

}  // namespace

Result<OnnxTuneResult> tune_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& calib,
                                       const std::vector<CalibrationSample>& eval_in, const OnnxTuneOptions& options) {
  return guarded([&] {
    if (calib.empty()) fail_argument("tune needs calibration samples");
    const api::TuneFormats formats = api::tune_formats(options.formats);
    check_options(options, out, formats.bf16);
    const std::vector<std::string> methods = api::tune_method_list(options.method);
    const std::vector<CalibrationSample>& eval = eval_in.empty() ? calib : eval_in;
    // Candidate files named by process: two tunes may share an output folder.
    const std::string work = options.work_dir.empty() ? dir_of(out) : options.work_dir;
    Tuner t{in, calib, eval, options, formats.bf16, work + "/.tune-" + std::to_string(getpid()) + "-", {}, now_seconds()};
    OnnxTuneResult r;
    r.memory_what = options.memory_what;
    r.eval_samples = int(eval.size());
    if (options.task_metric) r.task_metric_name = options.task_metric_name;
    {
      auto f = Tuner::open(in, t.session_options(options.threads.front(), false, false));
      for (const CalibrationSample& x : eval) t.float_outputs.push_back(Tuner::run(*f, x));
    }
    struct RemovedAtExit {  // also when a step fails
      std::vector<std::string> paths;
      ~RemovedAtExit() {
        for (const std::string& p : paths) std::remove(p.c_str());
      }
    } cleanup;
    for (const char* name : {"int8-all.onnx", "out.onnx"})
      cleanup.paths.push_back(t.stem + name);
    // 1. Every quantizable conv: its sensitivities, and its node time in each format.
    const std::string all_path = t.stem + "int8-all.onnx";
    OnnxQuantizeReport all;
    {
      OnnxQuantizeOptions q;  // every conv int8 (grouped ones stay out, as in pareto quantize)
      q.method = methods.front(), q.percentile = options.percentile, q.keep_first_last = false, q.sensitivity = formats.int8;
      q.threads = options.threads.front();
      auto rep = quantize_onnx_model(in, all_path, calib, q);
      if (!rep.ok()) fail(rep.status().code, rep.status().message);
      all = rep.value();
    }
    for (const OnnxLayerReport& l : all.layers)
      if (l.quantized) r.layers.push_back({l.node, l.sensitivity, 0, 0, 0, 0, -1});
    // pareto quantize's default keeps its end layers float (the first conv, and convs no weighted layer follows).
    // (With fuse_quantize the rounding of an int8 conv's input may be timed on the depthwise conv before it:
    // per-node gains order the search only; the chosen mix is measured end to end.)
    std::set<std::string> end_layers;
    for (const OnnxLayerReport& l : all.layers)
      if (l.end_layer) end_layers.insert(l.node);
    if (r.layers.empty()) fail_argument(in + ": no conv that int8 or bf16 can serve");
    std::vector<std::string> every, middle, ends;
    for (const OnnxTuneLayer& l : r.layers) {
      every.push_back(l.node);
      (end_layers.count(l.node) ? ends : middle).push_back(l.node);
    }
    t.progress(1, 0, "sensitivity of " + std::to_string(r.layers.size()) + " convs");
    const std::map<std::string, double> fp32_ms = t.node_ms(in);
    const std::map<std::string, double> int8_ms = formats.int8 ? t.node_ms(all_path) : std::map<std::string, double>{};
    const std::map<std::string, double> bf16_ms = formats.bf16 ? t.node_ms(in, every) : std::map<std::string, double>{};
    auto at = [](const std::map<std::string, double>& m, const std::string& node) {
      auto i = m.find(node);
      return i == m.end() ? 0.0 : i->second;
    };
    for (OnnxTuneLayer& l : r.layers) {
      l.fp32_ms = at(fp32_ms, l.node), l.int8_ms = at(int8_ms, l.node), l.bf16_ms = at(bf16_ms, l.node);
      if (formats.bf16) l.bf16_sensitivity = t.quality_loss(in, {l.node});
    }
    t.progress(2, 0, "per-node times in each format");
    // 2. The candidates: the anchors and points spread along the greedy path, for each calibration method.
    const std::vector<api::TuneMix> path = api::tune_greedy_path(r.layers, formats);
    std::vector<Mix> mixes;
    std::set<std::tuple<std::string, std::set<std::string>, std::set<std::string>>> seen;  // each (method, int8, bf16) measured once
    auto add = [&](const std::string& label, const std::string& method, const std::vector<std::string>& int8, const std::vector<std::string>& bf16,
                   bool anchor = true) {
      const std::string m = int8.empty() ? "" : method;
      if (seen.insert({m, std::set<std::string>(int8.begin(), int8.end()), std::set<std::string>(bf16.begin(), bf16.end())}).second)
        mixes.push_back({label + (methods.size() > 1 && !int8.empty() ? " " + m : ""), m, int8, bf16, anchor});
    };
    add("fp32", "", {}, {});
    if (formats.bf16) add("bf16 all", "", {}, every);
    for (const std::string& m : methods) {
      if (!formats.int8) break;
      if (!middle.empty()) add("int8 float ends", m, middle, {});
      if (!middle.empty() && formats.bf16 && !ends.empty()) add("int8, bf16 ends", m, middle, ends);
      add("int8 all", m, every, {});
    }
    // The anchors of every method first (a time budget cuts greedy points
    // only), then the greedy points with the methods in turn (a tight budget
    // leaves no method out entirely).
    std::set<size_t> steps;
    for (int k = 1; k <= options.points && !path.empty(); ++k) steps.insert(std::max<size_t>(1, path.size() * size_t(k) / size_t(options.points)));
    for (size_t n : steps)
      for (const std::string& m : methods) add("greedy " + std::to_string(n), m, path[n - 1].int8, path[n - 1].bf16, false);
    // 3. Each one quantized (and compiled) and scored: its output error and
    // task metric (or both from the cache).
    api::TuneCache cache(options.cache, fingerprint(in, calib, eval, options), {"quality_loss", "task_metric"});
    std::vector<std::optional<CandidateFiles>> files;  // made when scored or timed
    std::vector<OnnxTunePoint> scored;                 // per scored mix, before timing
    std::set<std::string> seen_keys;                   // method + formats of every mix in `mixes`
    const double fp32_total_ms = [&] {
      double ms = 0;
      for (const auto& [node, v] : fp32_ms) ms += v;
      return ms;
    }();
    auto files_of = [&](size_t c) -> const CandidateFiles& {
      if (!files[c]) {
        const std::string name = "candidate-" + std::to_string(c);
        for (const char* ext : {".onnx", ".pareto", "-timed.pareto"}) cleanup.paths.push_back(t.stem + name + ext);
        files[c] = t.materialize(mixes[c], r.layers, name);
      }
      return *files[c];
    };
    auto score = [&](size_t c) {
      const Mix& mix = mixes[c];
      files.emplace_back();
      const std::vector<int> formats = api::tune_formats_of(r.layers, {mix.int8, mix.bf16});
      const std::string key = mix.method + ":" + api::tune_mix_key(formats);
      OnnxTunePoint p;
      p.label = mix.label, p.int8_layers = mix.int8, p.bf16_layers = mix.bf16, p.method = mix.method;
      p.predicted_ms = api::tune_predicted_ms(r.layers, formats, fp32_total_ms);
      if (const std::vector<double>* v = cache.find(key)) {
        p.quality_loss = (*v)[0], p.task_metric = (*v)[1];
        ++r.from_cache;
      } else {
        const bool plain = mix.int8.empty() && mix.bf16.empty();
        p.quality_loss = plain ? 0.0 : t.quality_loss(files_of(c).model);
        p.task_metric = options.task_metric ? options.task_metric(plain ? in : files_of(c).model) : -1;
        cache.add(key, {p.quality_loss, p.task_metric});
        ++r.measured;
      }
      t.progress(3 + c, 0, mix.label + ": loss " + std::to_string(p.quality_loss) +
                               (options.task_metric ? ", " + options.task_metric_name + " " + std::to_string(p.task_metric) : ""));
      scored.push_back(std::move(p));
    };
    for (const Mix& m : mixes) seen_keys.insert(m.method + ":" + api::tune_mix_key(api::tune_formats_of(r.layers, {m.int8, m.bf16})));
    auto budget_spent = [&] { return options.time_budget_s > 0 && now_seconds() - t.t0 > options.time_budget_s; };
    const size_t planned = mixes.size();
    for (size_t c = 0; c < planned; ++c) {
      if (!mixes[c].anchor && budget_spent()) {
        r.skipped_by_budget = int(planned - c);
        t.progress(3 + c, 0, "time budget spent: " + std::to_string(r.skipped_by_budget) + " greedy candidates left unmeasured");
        mixes.resize(c);
        break;
      }
      score(c);
    }
    const double fp32_task = scored.front().task_metric;  // mixes[0] is fp32, always measured
    // The evolutionary search (first method): children of the scored mixes.
    std::mt19937_64 rng(options.seed);
    for (int g = 1; g <= options.generations && !budget_spent(); ++g) {
      std::vector<api::TuneCandidate> population;
      for (const OnnxTunePoint& p : scored)
        if (p.method.empty() || p.method == methods.front()) {
          api::TuneCandidate cand{api::tune_formats_of(r.layers, {p.int8_layers, p.bf16_layers}), p.predicted_ms, {}};
          if (options.task_metric) cand.quality.push_back(p.task_metric);
          cand.quality.push_back(p.quality_loss);
          population.push_back(std::move(cand));
        }
      std::set<std::string> seen_formats;  // this method's mixes: keys without the method
      for (const std::string& k : seen_keys)
        if (k.rfind(methods.front() + ":", 0) == 0) seen_formats.insert(k.substr(methods.front().size() + 1));
        else if (k.rfind(":", 0) == 0) seen_formats.insert(k.substr(1));  // no int8: no method
      const std::vector<std::vector<int>> children = api::tune_evolve(population, r.layers, formats, options.population, rng, seen_formats);
      for (const std::vector<int>& f : children) {
        const api::TuneMix m = api::tune_mix_of(r.layers, f);
        const std::string method = m.int8.empty() ? "" : methods.front();
        seen_keys.insert(method + ":" + api::tune_mix_key(f));
        mixes.push_back({"evolved g" + std::to_string(g) + (methods.size() > 1 && !m.int8.empty() ? " " + method : ""), method, m.int8, m.bf16, false});
        score(mixes.size() - 1);
      }
      r.generations_run = g;
      if (children.empty()) break;  // the space is exhausted
    }
    r.searched = scored;
    // 4. Timed at every thread count: the anchors and greedy points, and the
    // evolved points on the front of (predicted time, quality), fastest
    // predicted first, at most max_timed; rounds over all of them in turn (a
    // slow spell of the machine then lands on every candidate alike), the
    // median of each; energy estimated once.
    std::vector<size_t> timed;
    {
      std::vector<api::TuneCandidate> all;
      for (const OnnxTunePoint& p : scored) {
        api::TuneCandidate cand{{}, p.predicted_ms, {}};
        if (options.task_metric) cand.quality.push_back(p.task_metric);
        cand.quality.push_back(p.quality_loss);
        all.push_back(std::move(cand));
      }
      const std::vector<int> rank = api::tune_pareto_ranks(all);
      std::vector<size_t> evolved;
      for (size_t c = 0; c < scored.size(); ++c) {
        if (c < planned) timed.push_back(c);
        else if (rank[c] == 0) evolved.push_back(c);
      }
      std::stable_sort(evolved.begin(), evolved.end(), [&](size_t a, size_t b) { return scored[a].predicted_ms < scored[b].predicted_ms; });
      if (evolved.size() > size_t(options.max_timed)) evolved.resize(size_t(options.max_timed));
      timed.insert(timed.end(), evolved.begin(), evolved.end());
    }
    const size_t nt = options.threads.size();
    std::vector<std::vector<double>> ms(timed.size() * nt);
    std::vector<double> memory(ms.size(), 0), energy(ms.size(), 0);
    for (int round = 0; round < std::max(1, options.rounds); ++round) {
      for (size_t i = 0; i < timed.size(); ++i)
        for (size_t k = 0; k < nt; ++k) {
          const std::string& model = files_of(timed[i]).timed;
          const TuneCost cost = t.measure(model, options.threads[k]);
          ms[i * nt + k].push_back(cost.latency_ms);
          memory[i * nt + k] = std::max(memory[i * nt + k], cost.memory_mib);
          if (round == 0 && options.energy) energy[i * nt + k] = t.energy_mj(model, options.threads[k]);
        }
      t.progress(3 + scored.size(), 0, "timing round " + std::to_string(round + 1) + " of " + std::to_string(std::max(1, options.rounds)));
    }
    for (size_t i = 0; i < timed.size(); ++i)
      for (size_t k = 0; k < nt; ++k) {
        OnnxTunePoint p = scored[timed[i]];
        p.threads = options.threads[k];
        p.cost = {median(ms[i * nt + k]), memory[i * nt + k]};
        p.energy_mj = energy[i * nt + k];
        r.points.push_back(std::move(p));
      }
    // 5. The front, the choice, and the chosen model written.
    api::tune_mark_frontier(r.points);
    r.chosen = api::tune_choose(r, options, fp32_task);
    const OnnxTunePoint& best = r.points[size_t(r.chosen)];
    if (ends_with(out, ".pareto")) {
      const std::string onnx = best.int8_layers.empty() ? in : t.stem + "out.onnx";
      if (!best.int8_layers.empty()) t.quantize(onnx, best.int8_layers, best.method, r.layers);
      t.compile(onnx, best.bf16_layers, false, out);
    } else if (best.int8_layers.empty()) {
      copy_file(in, out);
    } else {
      t.quantize(out, best.int8_layers, best.method, r.layers);
    }
    r.seconds = now_seconds() - t.t0;
    return r;
  });
}

}  // namespace pareto
