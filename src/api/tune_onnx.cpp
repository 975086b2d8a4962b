// pareto tune for ONNX CNNs (include/pareto/tune.hpp): per-conv int8, bf16
// or fp32 and the thread count, from points that were all quantized and run
// (the search itself: tune_onnx_search.cpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <set>

#include <unistd.h>

#include "api/guarded.h"
#include "api/median.h"
#include "api/specialize.h"
#include "api/tune_cache.h"
#include "api/tune_onnx_search.h"
#include "api/tune_onnx_tuner.h"
#include "core/error.h"
#include "frontend/onnx/onnx_writer.h"
#include "kernels/dispatch.h"
#include "pareto/tune.hpp"

namespace pareto {

namespace {

using api::CandidateFiles;
using api::OnnxMix;
using api::Tuner;

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// (An output that is the input was refused before: opening it for writing would empty it.)
void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  if (!in || !out) fail(StatusCode::io_error, "cannot copy " + from + " to " + to);
  out << in.rdbuf();
  if (!out) fail(StatusCode::io_error, to + ": write failed");
}

// What a measured quality depends on: the model file, the calibration and
// evaluation samples, the quantizer's percentile, the kernels (bf16 and int8
// arithmetic differ per ISA), the build that measures and what the task metric reads.
std::string fingerprint(const std::string& in, const std::vector<CalibrationSample>& calib, const std::vector<CalibrationSample>& eval,
                        const OnnxTuneOptions& o) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the samples' names, shapes and bytes
  auto add = [&](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  };
  for (const auto& [name, tensor] : o.constant_inputs) {  // a model specialized otherwise is another model
    add(name.data(), name.size());
    add("=", 1);
    const int dtype = int(tensor.dtype());
    add(&dtype, sizeof dtype);
    add(tensor.shape().data(), tensor.shape().size() * sizeof(int64_t));
    add(tensor.raw(), tensor.nbytes());
    add(";", 1);
  }
  add("|", 1);
  for (const auto* set : {&calib, &eval}) {
    for (const CalibrationSample& x : *set)
      for (const auto& [name, tensor] : x) {
        add(name.data(), name.size());
        add(tensor.shape().data(), tensor.shape().size() * sizeof(int64_t));
        add(tensor.raw(), tensor.nbytes());
      }
    add("|", 1);
  }
  char percentile[40];
  std::snprintf(percentile, sizeof percentile, "%.17g", o.percentile);
  // v2: the formats searched (a conv's bf16 choice depends on it), parsed so any spelling keys alike.
  const api::TuneFormats f = api::tune_formats(o.formats);
  const std::string formats = std::string(f.int8 ? "int8" : "") + (f.bf16 ? "+bf16" : "");
  return "tune-onnx-v2|" + api::file_identity(in) + "|" + std::to_string(h) + "|" + percentile + "|" + formats + "|" + kernels::kernel_summary() + "|" +
         api::build_identity() + "|" + (o.task_metric ? o.task_metric_name + "|" + o.task_metric_key : "no task");
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
  if (o.round_latency != "median" && o.round_latency != "fastest")
    fail_argument("a point's latency over its rounds is their median or the fastest, got '" + o.round_latency + "'");
  if (o.generations < 0 || o.generations > 1000 || o.population < 0 || o.population > 1000 || o.max_timed < 0 || o.max_timed > 256)
    fail_argument("generations and population must be 0 to 1000, max timed 0 to 256");
  if (!(o.time_budget_s >= 0)) fail_argument("the time budget must be 0 (none) or more seconds");
  if (!(o.max_task_loss >= 0)) fail_argument("the task-loss budget must be 0 or more");
  if (!o.cache.empty() && o.task_metric && o.task_metric_key.empty())
    fail_argument("a cache with a task metric needs task_metric_key (what the metric reads), or cached values of another metric could be reused");
  if (bf16 && !ends_with(out, ".pareto"))
    fail_argument("bf16 convs are written in a compiled model: give an output ending in .pareto (got '" + out + "')");
}

// Candidate files are named by process and by call: two tunes may share an
// output folder, or run in one process.
std::string candidate_stem(const std::string& work) {
  static std::atomic<uint64_t> calls{0};
  return work + "/.tune-" + std::to_string(getpid()) + "-" + std::to_string(calls++) + "-";
}

struct RemovedAtExit {  // also when a step fails
  std::vector<std::string> paths;
  ~RemovedAtExit() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};

// One tune, step by step (include/pareto/tune.hpp describes the steps).
class TuneRun {
 public:
  // `in`: the model tuned (the user's, or a specialized copy of `source`); `source`: the user's file.
  TuneRun(const std::string& in, const std::string& source, const std::string& out, const std::string& stem, const std::vector<CalibrationSample>& calib,
          const std::vector<CalibrationSample>& eval, const OnnxTuneOptions& o)
      : in_(in), out_(out), o_(o), formats_(api::tune_formats(o.formats)), methods_(api::tune_method_list(o.method)),
        t_{in, calib, eval, o, formats_.bf16, stem, {}, now_seconds()},
        cache_(o.cache, fingerprint(source, calib, eval, o), {"quality_loss", "task_metric"}) {
    r_.memory_what = o.memory_what;
    r_.eval_samples = int(eval.size());
    if (o.task_metric) r_.task_metric_name = o.task_metric_name;
    for (const char* name : {"int8-all.onnx", "int8-all.onnx.method.onnx", "out.onnx"}) cleanup_.paths.push_back(t_.stem + name);
  }

  OnnxTuneResult run() {
    auto f = Tuner::open(in_, t_.session_options(o_.threads.front(), false, false));
    for (const CalibrationSample& x : t_.eval) t_.float_outputs.push_back(Tuner::run(*f, x));
    f.reset();
    measure_layers();
    plan();
    score_planned();
    evolve();
    r_.searched = scored_;
    time_points(pick_timed());
    api::tune_mark_frontier(r_.points);
    r_.chosen = api::tune_choose(r_, o_, scored_.front().task_metric);  // mixes_[0] is fp32, always scored
    write_chosen();
    r_.seconds = now_seconds() - t_.t0;
    return std::move(r_);
  }

 private:
  // 1. Every conv int8 or bf16 can serve: its sensitivities and its node time in each format.
  void measure_layers() {
    const std::string all_path = t_.stem + "int8-all.onnx";
    // Every layer int8: convs (depthwise ones too: pareto sums them in
    // integers on VNNI) and MatMuls by a constant 2-D weight (a transformer
    // block, a head).
    // The first calibrated method lists them (per-run ranges leave depthwise
    // convs and MatMuls float: dynamic_capable_ says which layers those take).
    const auto calibrated = std::find_if(methods_.begin(), methods_.end(), [](const std::string& m) { return !api::tune_method_is_dynamic(m); });
    const std::string method = calibrated != methods_.end() ? *calibrated : methods_.front();
    OnnxQuantizeOptions q;
    api::tune_apply_method(q, method);
    q.percentile = o_.percentile, q.keep_first_last = false, q.sensitivity = formats_.int8;
    q.quantize_matmul = true;
    q.quantize_depthwise = true;
    q.threads = o_.threads.front();
    const OnnxQuantizeReport all = api::quantize_onnx_file(in_, all_path, t_.calib, q, &t_.ranges[method], true);
    // The layers per-run ranges take (the first dynamic method lists them),
    // and each GPTQ method's rounding, done once here with every layer int8:
    // the candidates share those codes (RangeCache::gptq_codes), so a
    // layer's codes depend on its method only, not on which candidate came first.
    bool dynamic_listed = false;
    for (const std::string& m : methods_) {
      const bool dynamic = api::tune_method_is_dynamic(m);
      if (m == method || !(api::tune_method_has_gptq(m) || (dynamic && !dynamic_listed))) continue;
      api::tune_apply_method(q, m);
      q.sensitivity = false;
      const std::string path = all_path + ".method.onnx";
      const OnnxQuantizeReport other = api::quantize_onnx_file(in_, path, t_.calib, q, &t_.ranges[m], false);
      std::filesystem::remove(path);
      if (dynamic && !dynamic_listed)
        for (const OnnxLayerReport& l : other.layers)
          if (l.quantized) dynamic_capable_.insert(l.node);
      dynamic_listed |= dynamic;
    }
    // pareto quantize's default keeps its end layers float (the first conv, and convs no weighted layer follows).
    // (With fuse_quantize the rounding of an int8 conv's input may be timed on the depthwise conv before it:
    // per-node gains order the search only; the chosen mix is measured end to end.)
    for (const OnnxLayerReport& l : all.layers)
      if (l.quantized) {
        r_.layers.push_back({l.node, l.sensitivity, 0, 0, 0, 0, -1});
        if (l.end_layer) end_layers_.insert(l.node);
      }
    if (r_.layers.empty()) fail_argument(in_ + ": no conv or MatMul that int8 or bf16 can serve");
    t_.progress(1, 0, "sensitivity of " + std::to_string(r_.layers.size()) + " layers");
    std::vector<std::string> every;
    for (const OnnxTuneLayer& l : r_.layers) every.push_back(l.node);
    const std::map<std::string, double> fp32 = t_.node_ms(in_);
    const std::map<std::string, double> int8 = formats_.int8 ? t_.node_ms(all_path) : std::map<std::string, double>{};
    const std::map<std::string, double> bf16 = formats_.bf16 ? t_.node_ms(in_, every) : std::map<std::string, double>{};
    for (const auto& [node, ms] : fp32) fp32_total_ms_ += ms;
    int missing = 0;
    // A conv a profile does not name (renamed by a rewrite) gets its fp32 time: no gain the search could chase.
    auto at = [&](const std::map<std::string, double>& m, const std::string& node, double fallback) {
      auto i = m.find(node);
      if (i != m.end()) return i->second;
      missing += !m.empty();
      return fallback;
    };
    for (OnnxTuneLayer& l : r_.layers) {
      l.fp32_ms = at(fp32, l.node, 0.0);
      l.int8_ms = at(int8, l.node, l.fp32_ms), l.bf16_ms = at(bf16, l.node, l.fp32_ms);
      if (formats_.bf16) l.bf16_sensitivity = t_.quality_loss(in_, {l.node});
    }
    t_.progress(2, 0, "per-node times in each format" + (missing ? " (" + std::to_string(missing) + " layer times not found in a profile)" : std::string()));
  }

  // The convs of `names` that can take bf16 (the others the kernel keeps in f32).
  std::vector<std::string> bf16_capable(const std::vector<std::string>& names) const {
    std::vector<std::string> out;
    for (const OnnxTuneLayer& l : r_.layers)
      if (l.bf16_sensitivity > 0 && std::find(names.begin(), names.end(), l.node) != names.end()) out.push_back(l.node);
    return out;
  }

  std::string key_of(const std::string& method, const std::vector<std::string>& int8, const std::vector<std::string>& bf16) const {
    return method + ":" + api::tune_mix_key(api::tune_formats_of(r_.layers, {int8, bf16}));
  }

  void add(const std::string& label, const std::string& method, const std::vector<std::string>& int8, const std::vector<std::string>& bf16, bool anchor) {
    const std::string m = int8.empty() ? "" : method;
    if (seen_keys_.insert(key_of(m, int8, bf16)).second)
      mixes_.push_back({label + (methods_.size() > 1 && !int8.empty() ? " " + m : ""), m, int8, bf16, anchor});
  }

  // 2. The anchors of every method first (a time budget cuts greedy points
  // only), then points spread along the greedy path with the methods in
  // turn (a tight budget leaves no method out entirely).
  void plan() {
    std::vector<std::string> every, middle, ends;
    for (const OnnxTuneLayer& l : r_.layers) {
      every.push_back(l.node);
      (end_layers_.count(l.node) ? ends : middle).push_back(l.node);
    }
    add("fp32", "", {}, {}, true);
    const std::vector<std::string> bf16_every = bf16_capable(every), bf16_ends = bf16_capable(ends);
    if (!bf16_every.empty()) add("bf16 all", "", {}, bf16_every, true);
    for (const std::string& m : methods_) {
      if (!formats_.int8) break;
      if (!middle.empty()) add("int8 float ends", m, middle, {}, true);
      if (!middle.empty() && !bf16_ends.empty()) add("int8, bf16 ends", m, middle, bf16_ends, true);
      add("int8 all", m, every, {}, true);
    }
    const std::vector<api::TuneMix> path = api::tune_greedy_path(r_.layers, formats_);
    std::set<size_t> steps;
    for (int k = 1; k <= o_.points && !path.empty(); ++k) steps.insert(std::max<size_t>(1, path.size() * size_t(k) / size_t(o_.points)));
    for (size_t n : steps)
      for (const std::string& m : methods_) add("greedy " + std::to_string(n), m, path[n - 1].int8, path[n - 1].bf16, false);
  }

  bool budget_spent() const { return o_.time_budget_s > 0 && now_seconds() - t_.t0 > o_.time_budget_s; }

  // Candidate c's files, written the first time they are needed.
  const CandidateFiles& files_of(size_t c) {
    if (!files_[c]) {
      const std::string name = "candidate-" + std::to_string(c);
      for (const char* ext : {".onnx", ".pareto", "-timed.pareto"}) cleanup_.paths.push_back(t_.stem + name + ext);
      files_[c] = t_.materialize(mixes_[c], r_.layers, name);
    }
    return *files_[c];
  }

  // 3. Mix c quantized (and compiled) and scored: its output error and task metric (or both from the cache).
  void score(size_t c) {
    const OnnxMix& mix = mixes_[c];
    files_.resize(mixes_.size());  // one slot per mix, filled when first needed
    const std::vector<int> formats = api::tune_formats_of(r_.layers, {mix.int8, mix.bf16});
    const std::string key = mix.method + ":" + api::tune_mix_key(formats);
    OnnxTunePoint p;
    p.label = mix.label, p.int8_layers = mix.int8, p.bf16_layers = mix.bf16, p.method = mix.method;
    if (api::tune_method_is_dynamic(mix.method)) {  // the layers per-run ranges cannot take stay float in its file: the point says so
      std::erase_if(p.int8_layers, [&](const std::string& l) { return !dynamic_capable_.count(l); });
      if (p.int8_layers.empty()) p.method.clear();
    }
    p.predicted_ms = api::tune_predicted_ms(r_.layers, formats, fp32_total_ms_);
    if (const std::vector<double>* v = cache_.find(key)) {
      p.quality_loss = (*v)[0], p.task_metric = (*v)[1];
      ++r_.from_cache;
    } else {
      const bool plain = mix.int8.empty() && mix.bf16.empty();
      p.quality_loss = plain ? 0.0 : t_.quality_loss(files_of(c).model);
      p.task_metric = o_.task_metric ? o_.task_metric(plain ? in_ : files_of(c).model) : -1;
      cache_.add(key, {p.quality_loss, p.task_metric});
      ++r_.measured;
    }
    t_.progress(3 + c, 0, mix.label + ": loss " + std::to_string(p.quality_loss) +
                              (o_.task_metric ? ", " + o_.task_metric_name + " " + std::to_string(p.task_metric) : ""));
    scored_.push_back(std::move(p));
  }

  void score_planned() {
    planned_ = mixes_.size();
    for (size_t c = 0; c < planned_; ++c) {
      if (!mixes_[c].anchor && budget_spent()) {
        r_.skipped_by_budget = int(planned_ - c);
        t_.progress(3 + c, 0, "time budget spent: " + std::to_string(r_.skipped_by_budget) + " greedy candidates left unmeasured");
        mixes_.resize(c);
        planned_ = c;
        return;
      }
      score(c);
    }
  }

  api::TuneCandidate candidate_of(const OnnxTunePoint& p) const {
    api::TuneCandidate c{api::tune_formats_of(r_.layers, {p.int8_layers, p.bf16_layers}), p.predicted_ms, {}};
    if (o_.task_metric) c.quality.push_back(p.task_metric);
    c.quality.push_back(p.quality_loss);
    return c;
  }

  // The evolutionary search (first method): children of the scored mixes;
  // the time budget is checked before each child.
  void evolve() {
    std::mt19937_64 rng(o_.seed);
    const std::string method = methods_.front();
    for (int g = 1; g <= o_.generations && !budget_spent(); ++g) {
      std::vector<api::TuneCandidate> population;
      std::set<std::string> seen;  // keys without the method: this method's mixes and those with no int8
      for (const OnnxTunePoint& p : scored_)
        if (p.method.empty() || p.method == method) population.push_back(candidate_of(p));
      for (const std::string& k : seen_keys_)
        if (k.rfind(method + ":", 0) == 0) seen.insert(k.substr(method.size() + 1));
        else if (k.rfind(":", 0) == 0) seen.insert(k.substr(1));
      const std::vector<std::vector<int>> children = api::tune_evolve(population, r_.layers, formats_, o_.population, rng, seen);
      if (children.empty()) return;  // the space is exhausted
      for (size_t k = 0; k < children.size(); ++k) {
        if (budget_spent()) {
          r_.evolved_skipped_by_budget = int(children.size() - k);
          t_.progress(3 + mixes_.size(), 0, "time budget spent: the evolutionary search stops in generation " + std::to_string(g));
          return;
        }
        const api::TuneMix m = api::tune_mix_of(r_.layers, children[k]);
        const std::string mm = m.int8.empty() ? "" : method;
        seen_keys_.insert(mm + ":" + api::tune_mix_key(children[k]));
        const std::string label = "evolved g" + std::to_string(g) + "." + std::to_string(k + 1);
        mixes_.push_back({label + (methods_.size() > 1 && !m.int8.empty() ? " " + mm : ""), mm, m.int8, m.bf16, false});
        score(mixes_.size() - 1);
      }
      r_.generations_run = g;  // whole generations only
    }
    if (o_.generations > r_.generations_run && budget_spent() && r_.evolved_skipped_by_budget == 0) r_.evolved_skipped_by_budget = o_.population;
  }

  // The anchors and greedy points, and the evolved points on the front of
  // (predicted time, quality), fastest predicted first, at most max_timed.
  std::vector<size_t> pick_timed() const {
    std::vector<api::TuneCandidate> all;
    for (const OnnxTunePoint& p : scored_) all.push_back(candidate_of(p));
    const std::vector<int> rank = api::tune_pareto_ranks(all);
    std::vector<size_t> timed, evolved;
    for (size_t c = 0; c < scored_.size(); ++c) {
      if (c < planned_) timed.push_back(c);
      else if (rank[c] == 0) evolved.push_back(c);
    }
    std::stable_sort(evolved.begin(), evolved.end(), [&](size_t a, size_t b) { return scored_[a].predicted_ms < scored_[b].predicted_ms; });
    if (evolved.size() > size_t(o_.max_timed)) evolved.resize(size_t(o_.max_timed));
    timed.insert(timed.end(), evolved.begin(), evolved.end());
    return timed;
  }

  // 4. Timed at every thread count in rounds over all candidates in turn (a
  // slow spell of the machine then lands on every candidate alike), the
  // order reversed every other round (a drift over the run then favours
  // no candidate for its place), the median of each (or the fastest,
  // round_latency); energy estimated once.
  void time_points(const std::vector<size_t>& timed) {
    const size_t nt = o_.threads.size();
    std::vector<std::vector<double>> ms(timed.size() * nt);
    std::vector<double> memory(ms.size(), 0);
    std::vector<api::PointEnergy> energy(ms.size());
    for (int round = 0; round < std::max(1, o_.rounds); ++round) {
      for (size_t at = 0; at < timed.size(); ++at)
        for (size_t k = 0; k < nt; ++k) {
          const size_t i = round % 2 ? timed.size() - 1 - at : at;
          const std::string& model = files_of(timed[i]).timed;
          const TuneCost cost = t_.measure(model, o_.threads[k]);
          ms[i * nt + k].push_back(cost.latency_ms);
          memory[i * nt + k] = std::max(memory[i * nt + k], cost.memory_mib);
          if (round == 0 && o_.energy) energy[i * nt + k] = t_.energy_mj(model, o_.threads[k], cost.latency_ms);
        }
      t_.progress(3 + scored_.size(), 0, "timing round " + std::to_string(round + 1) + " of " + std::to_string(std::max(1, o_.rounds)));
    }
    for (size_t i = 0; i < timed.size(); ++i)
      for (size_t k = 0; k < nt; ++k) {
        OnnxTunePoint p = scored_[timed[i]];
        p.threads = o_.threads[k];
        const std::vector<double>& rounds = ms[i * nt + k];
        const double latency = o_.round_latency == "fastest" ? *std::min_element(rounds.begin(), rounds.end()) : api::median_mean(rounds);
        p.cost = {latency, memory[i * nt + k]};
        p.latency_rounds_ms = rounds;
        r_.points.push_back(std::move(p));
      }
    if (o_.energy) api::settle_energy(r_.points, energy, r_.energy_source);
    else r_.energy_source = "not estimated (off)";
  }

  // 5. The chosen point written: compiled into a .pareto, or the ONNX file.
  void write_chosen() {
    const OnnxTunePoint& best = r_.points[size_t(r_.chosen)];
    if (ends_with(out_, ".pareto")) {
      const std::string onnx = best.int8_layers.empty() ? in_ : t_.stem + "out.onnx";
      if (!best.int8_layers.empty()) t_.quantize(onnx, best.int8_layers, best.method, r_.layers);
      t_.compile(onnx, best.bf16_layers, false, out_);
    } else if (best.int8_layers.empty()) {
      copy_file(in_, out_);
    } else {
      t_.quantize(out_, best.int8_layers, best.method, r_.layers);
    }
  }

  const std::string& in_;
  const std::string& out_;
  const OnnxTuneOptions& o_;
  const api::TuneFormats formats_;
  const std::vector<std::string> methods_;
  Tuner t_;
  api::TuneCache cache_;
  RemovedAtExit cleanup_;
  OnnxTuneResult r_;
  std::set<std::string> end_layers_;
  std::set<std::string> dynamic_capable_;  // layers a "dynamic" point quantizes (group-1 convs)
  double fp32_total_ms_ = 0;
  std::vector<OnnxMix> mixes_;
  std::vector<std::optional<CandidateFiles>> files_;  // per mix: made when scored or timed
  std::vector<OnnxTunePoint> scored_;                  // per scored mix, before timing
  std::set<std::string> seen_keys_;                    // method + formats of every mix planned
  size_t planned_ = 0;                                 // mixes_[0, planned_): anchors and greedy points (always timed)
};

}  // namespace

Result<OnnxTuneResult> tune_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& calib,
                                       const std::vector<CalibrationSample>& eval, const OnnxTuneOptions& options) {
  return guarded([&] {
    if (calib.empty()) fail_argument("tune needs calibration samples");
    check_options(options, out, api::tune_formats(options.formats).bf16);
    api::refuse_output_among_inputs(out, {in, options.cache});
    const std::string stem = candidate_stem(options.work_dir.empty() ? dir_of(out) : options.work_dir);
    if (options.constant_inputs.empty()) return TuneRun(in, in, out, stem, calib, eval.empty() ? calib : eval, options).run();
    // Inputs bound to constants: the specialized model is tuned, and the samples lose those inputs.
    const std::string specialized = stem + "specialized.onnx";
    RemovedAtExit remove{{specialized}};
    onnx::save_model(api::load_specialized(in, options.constant_inputs), specialized);
    auto without_constants = [&](std::vector<CalibrationSample> v) {
      for (CalibrationSample& x : v)
        for (const auto& c : options.constant_inputs) x.erase(c.first);
      return v;
    };
    const std::vector<CalibrationSample> c = without_constants(calib), e = without_constants(eval.empty() ? calib : eval);
    return TuneRun(specialized, in, out, stem, c, e, options).run();
  });
}

}  // namespace pareto

