// pareto tune for ONNX CNNs, what runs a candidate (tune_onnx.cpp drives
// the steps): sessions for quality, timing and per-node profiles, the
// quantizer and compiler writing candidate files, the energy estimate.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "api/median.h"
#include "api/quantize_onnx_file.h"
#include "api/tune_energy.h"
#include "api/tune_onnx_search.h"
#include "core/error.h"
#include "pareto/profile.hpp"
#include "pareto/tune.hpp"

namespace pareto::api {

// A candidate: which convs are int8 (and their ranges' method) and which bf16.
struct OnnxMix {
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
  mutable std::map<std::string, quant::RangeCache> ranges = {};  // per calibration method

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
    return value_or_throw(Session::open(path, so));
  }

  static std::vector<Tensor> run(Session& s, const CalibrationSample& x) {
    return value_or_throw(s.run(x));
  }

  // Writes the model with `int8` layers (convs, MatMuls) quantized (the others float) to path.
  void quantize(const std::string& path, const std::vector<std::string>& int8, const std::string& method,
                const std::vector<OnnxTuneLayer>& layers) const {
    OnnxQuantizeOptions q;
    api::tune_apply_method(q, method);
    q.percentile = o.percentile;
    q.keep_first_last = false;
    q.quantize_matmul = true;  // MatMuls by constant weights and depthwise convs are layers too (measure_layers lists them)
    q.quantize_depthwise = true;
    q.threads = std::max(1, o.threads.front());
    const std::set<std::string> chosen(int8.begin(), int8.end());
    for (const OnnxTuneLayer& l : layers)
      if (!chosen.count(l.node)) q.keep.push_back(l.node);
    // Ranges come from the float model: observed once per method, shared by every candidate.
    api::quantize_onnx_file(in, path, calib, q, &ranges[method], false);
  }

  // The ONNX file compiled (bf16 convs marked) into a .pareto artifact.
  void compile(const std::string& onnx, const std::vector<std::string>& bf16, bool static_shapes, const std::string& path) const {
    SessionOptions so = session_options(1, false, static_shapes, bf16);
    so.prepack_weights = true;
    const Status st = open(onnx, so)->save(path);
    if (!st.ok()) fail(st.code, st.message);
  }

  // The candidate written as it will be run: quantized, and compiled when bf16 is searched.
  CandidateFiles materialize(const OnnxMix& m, const std::vector<OnnxTuneLayer>& layers, const std::string& name) const {
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
    return {median_mean(ms), double(s->memory().arena_bytes) / (1 << 20)};
  }

  // mJ per inference over a few profiled runs of the timing model: the
  // profiler's device model (docs/ENERGY.md), and powercap's reading of the
  // same runs where the counters are readable.
  // `latency_ms`: the point's timed latency; the runs are enough for the
  // meter to cover about 100 ms (a counter reading needs a long enough window).
  api::PointEnergy energy_mj(const std::string& path, int threads, double latency_ms) const {
    auto s = open(path, session_options(threads, true, true));
    ProfileOptions po;
    po.runs = latency_ms > 0 ? int(std::clamp(std::ceil(100.0 / latency_ms), 3.0, 1000.0)) : 3;
    po.warmup = std::max(1, o.warmup);
    po.measure_ceilings = false;
    po.powercap_root = o.powercap_root;
    const nlohmann::json j = nlohmann::json::parse(value_or_throw(profile_session(*s, path, eval.front(), po)));
    return api::energy_of_profile(j, j.at("summary").at("energy_mj").at("total").get<double>());
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
    for (auto& [name, v] : times) out[name] = median_mean(v);
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

}  // namespace pareto::api
