// pareto bench --llm MODEL -p 512 -n 128 -t 1,2 [--reps 3] [--json]: a
// llama-bench-style table, with each decode result's share of the measured
// memory-bandwidth roofline. pareto bench --bandwidth: the probe alone.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "cli.h"

namespace pareto::tools {

namespace {

std::vector<int> thread_list(const std::string& s) {
  const std::vector<int64_t> v = parse_int_list(s, "-t (a comma-separated list of thread counts)", 1, 1024);
  return std::vector<int>(v.begin(), v.end());
}

struct Stat {
  double mean = 0, sd = 0;
};

Stat stats(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= double(v.size());
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0;
  return s;
}

constexpr size_t kProbeBytes = size_t(1) << 30;

// The read bandwidth for each thread count, measured in a child process
// before any model is opened: the probe's 1 GiB buffer then never counts in
// this process's peak resident set, which the comparison script reports.
// It forks before this process has started any thread (the probe makes its
// own pool in the child), so no lock is held across the fork.
std::vector<double> probe_bandwidths_in_child(const std::vector<int>& threads) {
  std::vector<double> bw(threads.size(), 0.0);
  int fds[2];
  if (pipe(fds) != 0) throw Error(StatusCode::io_error, "bench: pipe() failed for the bandwidth probe");
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw Error(StatusCode::io_error, "bench: fork() failed for the bandwidth probe");
  }
  if (pid == 0) {
    close(fds[0]);
    try {
      for (size_t i = 0; i < bw.size(); ++i) bw[i] = measure_read_bandwidth(kProbeBytes, threads[i]);
    } catch (...) {
      _exit(2);  // the parent reports it; no unwinding into main in the child
    }
    const ssize_t want = ssize_t(bw.size() * sizeof(double));
    _exit(write(fds[1], bw.data(), size_t(want)) == want ? 0 : 1);
  }
  close(fds[1]);
  size_t got = 0;
  auto* out = reinterpret_cast<char*>(bw.data());
  while (got < bw.size() * sizeof(double)) {
    const ssize_t r = read(fds[0], out + got, bw.size() * sizeof(double) - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += size_t(r);
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got != bw.size() * sizeof(double) || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw Error(StatusCode::internal, "bench: the bandwidth probe process failed");
  return bw;
}

void print_table_header() {
  std::printf("cpu: %s\n\n", cpu_summary().c_str());
  std::printf("| %-28s | %10s | %8s | %7s | %7s | %6s | %16s | %8s |\n", "model", "size", "params", "type", "threads", "test", "t/s", "roofline");
  std::printf("|%s|%s|%s|%s|%s|%s|%s|%s|\n", std::string(30, '-').c_str(), std::string(12, '-').c_str(), std::string(10, '-').c_str(),
              std::string(9, '-').c_str(), std::string(9, '-').c_str(), std::string(8, '-').c_str(), std::string(18, '-').c_str(),
              std::string(10, '-').c_str());
}

}  // namespace

int cmd_bench_bandwidth(const Args& args) {
  std::vector<int> threads = thread_list(args.get("-t", args.get("--threads", "1,2")));
  for (int t : threads)
    std::printf("read bandwidth, %d thread%s: %.2f GB/s\n", t, t > 1 ? "s" : "", measure_read_bandwidth(kProbeBytes, t));
  // The compute side: f32 multiply-adds on t threads at once against one.
  const double one = measure_f32_gmacs_together(1);
  if (one > 0)
    for (int t : threads) {
      const double rate = t == 1 ? one : measure_f32_gmacs_together(t);
      if (t == 1) std::printf("f32 multiply-add rate, 1 thread: %.1f GMAC/s\n", rate);
      else std::printf("f32 multiply-add rate, %d threads at once: %.1f GMAC/s (%.2fx one thread)\n", t, rate, rate / one);
    }
  if (std::any_of(threads.begin(), threads.end(), [](int t) { return t > 1; })) {
    const HandoffProbe h = measure_thread_handoff();
    std::printf("two threads handing a cache line back and forth: round trip median %.0f ns, largest %.0f ns (of %d)\n", h.median_ns, h.max_ns, h.rounds);
  }
  return 0;
}

int cmd_bench_llm(const Args& args) {
  const int p = int(args.get_int("-p", 512, 0, 1 << 20)), n = int(args.get_int("-n", 128, 0, 1 << 20)), reps = int(args.get_int("--reps", 3, 1, 1000));
  std::vector<int> threads = thread_list(args.get("-t", args.get("--threads", "1")));
  bool json = args.has("--json");
  Args a = args;
  a.options.erase("-t");
  a.options.erase("--threads");
  a.options.erase("--ctx");
  a.options.emplace("--ctx", std::to_string(std::max(p, n) + 1));
  const std::vector<double> bandwidths = n > 0 ? probe_bandwidths_in_child(threads) : std::vector<double>(threads.size(), 0.0);
  bool header = !json;
  for (size_t ti = 0; ti < threads.size(); ++ti) {
    const int t = threads[ti];
    const double bw = bandwidths[ti];
    Args at = a;
    at.options.emplace("--threads", std::to_string(t));
    // One model open at a time, so the peak resident set is one model's.
    auto s = open_llm(at);
    const LlmInfo info = s->info();
    const std::string name = info.path.substr(info.path.find_last_of('/') + 1);
    if (header) {
      header = false;
      print_table_header();
    }
    for (int test = 0; test < 2; ++test) {
      int tokens = test == 0 ? p : n;
      if (tokens <= 0) continue;
      s->time_forward(std::min(tokens, 16), test == 0 ? tokens : 1);  // warm-up: pages in, threads up
      std::vector<double> tps;
      for (int r = 0; r < reps; ++r) {
        auto sec = s->time_forward(tokens, test == 0 ? tokens : 1);
        if (!sec.ok()) throw Error(sec.status().code, sec.status().message);
        tps.push_back(double(tokens) / sec.value());
      }
      Stat st = stats(tps);
      std::string label = (test == 0 ? "pp" : "tg") + std::to_string(tokens);
      // Decode reads every weight once per token: tokens/s x bytes / bandwidth.
      double roof = test == 1 && bw > 0 ? st.mean * double(info.weight_bytes) / (bw * 1e9) : 0;
      if (json) {
        const nlohmann::json j = {{"model", name},          {"size_bytes", info.weight_bytes}, {"params", info.parameters},
                                  {"type", info.weight_type}, {"threads", t},                  {"test", label},
                                  {"tokens_per_s", st.mean},  {"sd", st.sd},                   {"bandwidth_gbs", bw},
                                  {"roofline", roof},         {"kernels", cpu_summary()}};
        std::printf("%s\n", j.dump().c_str());
      } else {
        std::printf("| %-28.28s | %10s | %7.2f%s | %7s | %7d | %6s | %8.2f ± %5.2f | %7s |\n", name.c_str(), format_bytes(info.weight_bytes).c_str(),
                    info.parameters >= 1000000000 ? double(info.parameters) / 1e9 : double(info.parameters) / 1e6,
                    info.parameters >= 1000000000 ? "B" : "M", info.weight_type.c_str(), t, label.c_str(), st.mean, st.sd,
                    roof > 0 ? (std::to_string(int(std::lround(roof * 100))) + "%").c_str() : "");
      }
    }
    if (!json && bw > 0) std::fprintf(stderr, "(measured read bandwidth with %d thread%s: %.2f GB/s)\n", t, t > 1 ? "s" : "", bw);
  }
  return 0;
}

}  // namespace pareto::tools
