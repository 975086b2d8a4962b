// pareto run: one inference, outputs to .npy, optional per-op profile.
#include <filesystem>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli.h"

namespace pareto::tools {

static std::string file_safe(std::string name) {
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  return name;
}

static void print_profile(const std::vector<ProfileEntry>& prof) {
  double total = 0;
  std::map<std::string, std::pair<double, int>> by_type;
  std::fprintf(stderr, "%-20s %-40s %10s  %s\n", "op", "node", "ms", "output shape");
  for (const ProfileEntry& p : prof) {
    std::fprintf(stderr, "%-20s %-40.40s %10.3f  %s\n", p.op_type.c_str(), p.node_name.c_str(), p.seconds * 1e3,
                 shape_to_string(p.output_shape).c_str());
    total += p.seconds;
    by_type[p.op_type].first += p.seconds;
    by_type[p.op_type].second++;
  }
  std::vector<std::pair<double, std::string>> sorted;
  for (auto& [op, v] : by_type) sorted.push_back({v.first, op});
  std::sort(sorted.rbegin(), sorted.rend());
  std::fprintf(stderr, "\nby op type (total %.3f ms):\n", total * 1e3);
  for (auto& [t, op] : sorted)
    std::fprintf(stderr, "  %-20s %5d nodes %10.3f ms %5.1f%%\n", op.c_str(), by_type[op].second, t * 1e3, total > 0 ? 100 * t / total : 0.0);
}

int cmd_run(const Args& args) {
  if (args.positional.size() != 1) fail_argument("usage: pareto run MODEL [--input NAME=...] [--output DIR]");
  SessionOptions opt;
  opt.optimize = args.has("-O") || args.has("--optimize");
  if (args.has("--const") && !opt.optimize) fail_argument("--const binds inputs in the graph compiler: add -O");
  if (opt.optimize) {
    opt.shapes = parse_shapes(args);
    opt.constant_inputs = parse_constants(args);
  }
  parse_precision(args, opt);
  opt.threads = args.get_threads();
  opt.profile = args.has("--profile");
  auto opened = Session::open(args.positional[0], opt);
  if (!opened.ok()) throw Error(opened.status().code, opened.status().message);
  Session& session = *opened.value();
  std::map<std::string, Tensor> inputs = make_inputs(session, args);
  // --warmup N: untimed runs first, so --profile shows steady-state times
  // (the first run also pays for page faults on fresh buffers), and with N
  // > 0 on until the session has chosen which nodes run on one thread.
  if (const int64_t n = args.get_int("--warmup", 0, 0, 1000000); n > 0) {
    auto warm = session.warm_up(inputs, int(n));
    if (!warm.ok()) throw Error(warm.status().code, warm.status().message);
  }
  auto result = session.run(inputs);
  if (!result.ok()) throw Error(result.status().code, result.status().message);
  std::string dir = args.get("--output");
  if (!dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) fail(StatusCode::io_error, dir + ": cannot create directory: " + ec.message());
  }
  for (size_t i = 0; i < result.value().size(); ++i) {
    const Tensor& t = result.value()[i];
    const std::string& name = session.outputs()[i].name;
    double sum = 0, asum = 0;
    bool numeric = dtype_size(t.dtype()) > 0;
    for (int64_t k = 0; numeric && k < t.numel(); ++k) {
      double v = t.as_double(k);
      sum += v;
      asum += std::abs(v);
    }
    std::printf("%s: %s%s sum=%.6g mean|x|=%.6g\n", name.c_str(), dtype_name(t.dtype()), shape_to_string(t.shape()).c_str(), sum,
                t.numel() ? asum / double(t.numel()) : 0.0);
    if (!dir.empty()) take(write_npy(dir + "/" + file_safe(name) + ".npy", t));
  }
  if (opt.profile) print_profile(session.take_profile());
  return 0;
}

}  // namespace pareto::tools
