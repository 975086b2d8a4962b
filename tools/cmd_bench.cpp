// pareto bench: load time, first-run and steady-state latency, peak RSS.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli.h"

namespace pareto::tools {

namespace {

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  double pos = p * double(v.size() - 1);
  size_t lo = size_t(pos);
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
}

struct OutputError {
  double relative_l2 = 0, max_abs = 0;
};

// Over every float output together: sqrt(Σ (b - a)² / Σ a²) and max |b - a|.
OutputError compare_outputs(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  double diff = 0, norm = 0;
  OutputError e;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].dtype() != DType::f32 || b[i].dtype() != DType::f32 || a[i].numel() != b[i].numel()) continue;
    const float* x = a[i].data<float>();
    const float* y = b[i].data<float>();
    for (int64_t k = 0; k < a[i].numel(); ++k) {
      const double d = double(y[k]) - double(x[k]);
      diff += d * d;
      norm += double(x[k]) * double(x[k]);
      e.max_abs = std::max(e.max_abs, std::fabs(d));
    }
  }
  e.relative_l2 = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
  return e;
}

}  // namespace

int cmd_bench(const Args& args) {
  if (args.has("--bandwidth")) return cmd_bench_bandwidth(args);
  if (args.has("--llm") && args.has("--parallel")) return cmd_bench_parallel(args);
  if (args.has("--llm")) return cmd_bench_llm(args);
  if (args.positional.size() != 1) fail_argument("usage: pareto bench MODEL [--runs N] [--warmup N] [--threads N]");
  const int runs = int(args.get_int("--runs", 10, 1, 1000000)), warmup = int(args.get_int("--warmup", 2, 0, 1000000));
  SessionOptions opt;
  opt.optimize = args.has("-O") || args.has("--optimize");
  if (args.has("--const") && !opt.optimize) fail_argument("--const binds inputs in the graph compiler: add -O");
  if (opt.optimize && !args.has("--dynamic")) {  // --dynamic: optimize without binding the shapes (as the apps do)
    opt.shapes = parse_shapes(args);
    opt.constant_inputs = parse_constants(args);
  }
  parse_precision(args, opt);
  opt.threads = args.get_threads();
  double t0 = now_seconds();
  auto opened = Session::open(args.positional[0], opt);
  if (!opened.ok()) throw Error(opened.status().code, opened.status().message);
  double load = now_seconds() - t0;
  Session& session = *opened.value();
  std::map<std::string, Tensor> inputs = make_inputs(session, args);
  auto run_once = [&] {
    double s = now_seconds();
    auto r = session.run(inputs);
    if (!r.ok()) throw Error(r.status().code, r.status().message);
    return now_seconds() - s;
  };
  double first = run_once();
  // Timed runs start once the session has chosen its inline nodes (a few
  // runs past the warm-up: Session::warm_up).
  auto warmed = session.warm_up(inputs, warmup);
  if (!warmed.ok()) throw Error(warmed.status().code, warmed.status().message);
  const int learning_runs = warmed.value() - warmup;
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) times.push_back(run_once());
  // Peak memory before the fp32 reference session below adds its own.
  const size_t peak_rss = peak_rss_bytes();
  // A reduced precision is reported with what it costs: the outputs of one
  // run against the same model compiled in fp32, on the same inputs.
  double rel_error = -1, max_error = -1;
  if (opt.conv_precision != "fp32") {
    SessionOptions ref_opt = opt;
    ref_opt.conv_precision = "fp32";
    auto ref = Session::open(args.positional[0], ref_opt);
    if (!ref.ok()) throw Error(ref.status().code, ref.status().message);
    auto a = ref.value()->run(inputs);
    auto b = session.run(inputs);
    if (!a.ok() || !b.ok()) throw Error(StatusCode::internal, "precision check run failed");
    const OutputError e = compare_outputs(a.value(), b.value());
    rel_error = e.relative_l2;
    max_error = e.max_abs;
  }
  double med = percentile(times, 0.5), p90 = percentile(times, 0.9);
  double mn = *std::min_element(times.begin(), times.end());
  std::string shapes;
  for (const auto& [name, t] : inputs) shapes += (shapes.empty() ? "" : " ") + name + "=" + shape_to_string(t.shape());
  if (args.has("--json")) {
    const nlohmann::json j = {{"model", args.positional[0]}, {"inputs", shapes},        {"threads", opt.threads},
                              {"runs", runs},                {"load_ms", load * 1e3}, {"first_ms", first * 1e3},
                              {"median_ms", med * 1e3},      {"p90_ms", p90 * 1e3},   {"min_ms", mn * 1e3},
                              {"peak_rss_bytes", peak_rss}, {"kernels", cpu_summary()},
                              {"learning_runs", learning_runs}, {"cpus", running_cpus()}};
    nlohmann::json out = j;
    out["precision"] = opt.optimize ? opt.conv_precision : "fp32";
    if (rel_error >= 0) out["error_vs_fp32"] = {{"relative_l2", rel_error}, {"max_abs", max_error}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  }
  std::printf("model:     %s\n", args.positional[0].c_str());
  std::printf("inputs:    %s\n", shapes.c_str());
  std::printf("cpu:       %s\n", cpu_summary().c_str());
  std::printf("threads:   %d   runs: %d   warmup: %d (+%d learning which nodes run on one thread)\n", opt.threads, runs, warmup, learning_runs);
  std::printf("load:      %9.3f ms\n", load * 1e3);
  std::printf("first run: %9.3f ms\n", first * 1e3);
  std::printf("median:    %9.3f ms\n", med * 1e3);
  std::printf("p90:       %9.3f ms\n", p90 * 1e3);
  std::printf("min:       %9.3f ms\n", mn * 1e3);
  std::printf("peak RSS:  %s\n", format_bytes(peak_rss).c_str());
  if (rel_error >= 0)
    std::printf("precision: %s convs; outputs vs fp32: relative L2 %.3e, largest difference %.3e\n", opt.conv_precision.c_str(), rel_error, max_error);
  return 0;
}

}  // namespace pareto::tools
