// pareto bench: load time, first-run and steady-state latency, peak RSS.
#include <algorithm>
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

}  // namespace

int cmd_bench(const Args& args) {
  if (args.has("--bandwidth")) return cmd_bench_bandwidth(args);
  if (args.has("--llm")) return cmd_bench_llm(args);
  if (args.positional.size() != 1) fail_argument("usage: pareto bench MODEL [--runs N] [--warmup N] [--threads N]");
  const int runs = int(args.get_int("--runs", 10, 1, 1000000)), warmup = int(args.get_int("--warmup", 2, 0, 1000000));
  SessionOptions opt;
  opt.optimize = args.has("-O") || args.has("--optimize");
  if (opt.optimize && !args.has("--dynamic")) {  // --dynamic: optimize without binding the shapes (as the apps do)
    opt.shapes = parse_shapes(args);
    opt.constant_inputs = parse_constants(args);
  }
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
  for (int i = 0; i < warmup; ++i) run_once();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) times.push_back(run_once());
  double med = percentile(times, 0.5), p90 = percentile(times, 0.9);
  double mn = *std::min_element(times.begin(), times.end());
  std::string shapes;
  for (const auto& [name, t] : inputs) shapes += (shapes.empty() ? "" : " ") + name + "=" + shape_to_string(t.shape());
  if (args.has("--json")) {
    const nlohmann::json j = {{"model", args.positional[0]}, {"inputs", shapes},        {"threads", opt.threads},
                              {"runs", runs},                {"load_ms", load * 1e3}, {"first_ms", first * 1e3},
                              {"median_ms", med * 1e3},      {"p90_ms", p90 * 1e3},   {"min_ms", mn * 1e3},
                              {"peak_rss_bytes", peak_rss_bytes()}, {"kernels", cpu_summary()}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
  }
  std::printf("model:     %s\n", args.positional[0].c_str());
  std::printf("inputs:    %s\n", shapes.c_str());
  std::printf("cpu:       %s\n", cpu_summary().c_str());
  std::printf("threads:   %d   runs: %d   warmup: %d\n", opt.threads, runs, warmup);
  std::printf("load:      %9.3f ms\n", load * 1e3);
  std::printf("first run: %9.3f ms\n", first * 1e3);
  std::printf("median:    %9.3f ms\n", med * 1e3);
  std::printf("p90:       %9.3f ms\n", p90 * 1e3);
  std::printf("min:       %9.3f ms\n", mn * 1e3);
  std::printf("peak RSS:  %s\n", format_bytes(peak_rss_bytes()).c_str());
  return 0;
}

}  // namespace pareto::tools
