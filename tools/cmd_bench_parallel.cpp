// pareto bench --llm MODEL --parallel 1,4,16 [-n 128] [-t 2] [--reps 3]
// [--prompt TEXT] [--json]: the serving engine alone, without HTTP. For each
// client count C, C requests run at once in one LlmEngine with C slots
// (ignore_eos, so each writes exactly -n tokens); the aggregate tokens/s is
// the generated tokens over the wall time from the first submit to the last
// answer. Separates the engine's batching from the server's overheads.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "pareto/llm_engine.hpp"

namespace pareto::tools {

namespace {

struct RoundResult {
  double seconds = 0;
  int64_t tokens = 0, steps = 0, rows = 0;
};

// Submits `clients` requests at once and waits for every answer.
RoundResult run_round(LlmEngine& engine, int clients, int64_t tokens, const std::string& prompt, uint64_t seed) {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  int64_t generated = 0;
  std::string error;
  const LlmEngineStats before = engine.stats();
  const double t0 = now_seconds();
  int submitted = 0;
  std::string refused;  // the callbacks point into this frame: wait for those sent before leaving it
  for (int c = 0; c < clients && refused.empty(); ++c) {
    CompletionParams p;
    p.max_tokens = tokens, p.ignore_eos = true, p.seed = seed + uint64_t(c);
    auto id = engine.submit(prompt, p, [&](const CompletionEvent& e) {
      if (!e.done) return true;
      std::lock_guard lock(mu);
      ++done;
      generated += e.completion_tokens;
      if (e.finish_reason == "error" || e.finish_reason == "cancelled")
        if (error.empty()) error = e.finish_reason + (e.error.empty() ? "" : ": " + e.error);
      cv.notify_all();
      return true;
    });
    if (!id.ok()) refused = id.status().message;
    else if (id.value() == 0) refused = "the engine's queue refused a request";
    else ++submitted;
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done == submitted; });
  RoundResult r;
  r.seconds = now_seconds() - t0;
  if (!refused.empty()) throw Error(StatusCode::internal, "bench: " + refused);
  if (!error.empty()) throw Error(StatusCode::internal, "bench: a request ended " + error);
  const LlmEngineStats after = engine.stats();
  r.tokens = generated, r.steps = after.steps - before.steps, r.rows = after.step_rows - before.step_rows;
  return r;
}

}  // namespace

int cmd_bench_parallel(const Args& args) {
  if (args.positional.size() != 1) fail_argument("usage: pareto bench --llm MODEL --parallel 1,4 [-n 128] [-t 2] [--reps 3]");
  const std::vector<int64_t> counts = parse_int_list(args.get("--parallel"), "--parallel (a comma-separated list of client counts)", 1, 256);
  const int64_t n = args.get_int("-n", 128, 1, 1 << 20);
  const int reps = int(args.get_int("--reps", 3, 1, 1000));
  const std::string prompt = args.get("--prompt", "Once");
  const bool json = args.has("--json");
  LlmEngineOptions o;
  o.slots = int(*std::max_element(counts.begin(), counts.end()));
  o.llm.threads = args.get_threads();
  o.llm.ctx = args.get_int("--ctx", n + 64, 1, INT32_MAX);
  o.llm.kv_type = args.get("--kv", "f16");
  o.llm.tokenizer = args.get("--tokenizer");
  o.llm.repack = !args.has("--no-repack");
  o.llm.limits = current_limits();
  auto opened = LlmEngine::open(args.positional[0], o);
  if (!opened.ok()) throw Error(opened.status().code, opened.status().message);
  LlmEngine& engine = *opened.value();
  run_round(engine, 1, std::min<int64_t>(n, 8), prompt, 1);  // warm-up: pages in, threads up
  if (!json) std::printf("| clients | tokens/s (median of %d) | per client | steps | rows/step |\n|---|---|---|---|---|\n", reps);
  for (const int64_t count : counts) {
    const int clients = int(count);
    std::vector<RoundResult> rounds;
    for (int r = 0; r < reps; ++r) rounds.push_back(run_round(engine, clients, n, prompt, uint64_t(r) * 1000));
    std::sort(rounds.begin(), rounds.end(), [](const RoundResult& a, const RoundResult& b) { return a.tokens / a.seconds < b.tokens / b.seconds; });
    const RoundResult& m = rounds[rounds.size() / 2];
    const double tps = double(m.tokens) / m.seconds, per_step = m.steps ? double(m.rows) / double(m.steps) : 0;
    if (json)
      std::printf("%s\n", nlohmann::json{{"clients", clients}, {"tokens_per_s", tps}, {"tokens", m.tokens}, {"seconds", m.seconds},
                                         {"steps", m.steps}, {"rows_per_step", per_step}, {"threads", o.llm.threads}}
                              .dump()
                              .c_str());
    else
      std::printf("| %d | %.1f | %.1f | %lld | %.2f |\n", clients, tps, tps / clients, (long long)m.steps, per_step);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace pareto::tools
