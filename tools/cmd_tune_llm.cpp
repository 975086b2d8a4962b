// pareto tune MODEL.gguf --eval TEXT -o OUT.gguf [--formats f16,q8_0,...] [--method rtn[,gptq][,awq]] [--calib TEXT] [--calib-tokens 512]
//   [--kv f16[,q8,f32]] [--group tensor|layer|kind|kind-split] [--threads 1,2] [--ctx 128] [--chunks N]
//   [--points 8] [--time-points 0] [--generations 8] [--population 16] [--seed 1] [--time-budget S] [--max-timed 12]
//   [--anchor FILE.gguf]... [--max-latency MS] [--max-memory MIB] [--max-bpw B] [--max-energy MJ] [--max-kl X]
//   [--objective latency|memory|bpw|energy|quality] [--cache FILE] [--test TEXT] [--plot FILE.html] [--runs 1] [--rounds 4]
//   [--no-energy] [--explain] [--json]
// A weight type per tensor of a GGUF LLM from measured points
// (pareto/tune.hpp): prints the timed points with the front marked, the
// chosen one and why, and writes it.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli.h"
#include "pareto/tune.hpp"

namespace pareto::tools {

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(StatusCode::io_error, "cannot read the evaluation text " + path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void print_points(const LlmTuneResult& r) {
  std::printf("%-40s %7s %4s %6s %9s %9s %10s %9s %9s %9s %6s %9s %s\n", "point", "threads", "kv", "bpw", "weights", "memory", "decode ms", "predicted",
              "energy mJ", "KL", "ppl", "KL test", "");
  for (size_t i = 0; i < r.points.size(); ++i) {
    const LlmTunePoint& p = r.points[i];
    char test[32] = "-";
    if (p.kl_test >= 0) std::snprintf(test, sizeof test, "%9.3e", p.kl_test);
    char pred[32] = "-";
    if (p.predicted_ms >= 0) std::snprintf(pred, sizeof pred, "%.4f", p.predicted_ms);
    std::printf("%-40.40s %7d %4s %6.3f %8.3fM %8.3fM %10.4f %9s %9.4f %9.3e %6.3f %9s %s%s%s\n", p.label.c_str(), p.threads, p.kv.c_str(), p.bpw, p.weight_mib,
                p.memory_mib, p.decode_ms, pred, p.energy_mj, p.kl, p.ppl, test, p.frontier ? "front" : "", p.within_budget ? "" : " over budget",
                int(i) == r.chosen ? "  <- chosen" : "");
  }
}

void print_explain(const LlmTuneResult& r) {
  const LlmTunePoint& best = r.points[size_t(r.chosen)];
  if (best.types.empty()) {
    std::printf("\nthe chosen point is an anchor file: its types are its own\n");
    return;
  }
  std::printf("\n%-28s %-9s\n", "tensor", "type");
  for (size_t i = 0; i < r.tensors.size(); ++i) std::printf("%-28s %-9s\n", r.tensors[i].c_str(), best.types[i].c_str());
  std::printf("\n%-28s  KL with only this tensor (group) in each format, others unquantized (-: not offered; GPTQ takes layer matrices only)\n%-28s ",
              "search unit", "");
  for (const std::string& f : r.formats) std::printf(" %10s", f.c_str());
  std::printf("\n");
  for (size_t g = 0; g < r.groups.size(); ++g) {
    std::printf("%-28s ", r.groups[g].c_str());
    for (double s : r.sensitivity[g]) std::isnan(s) ? std::printf(" %10s", "-") : std::printf(" %10.3e", s);
    std::printf("\n");
  }
}

nlohmann::json point_json(const LlmTunePoint& p) {
  return {{"label", p.label}, {"origin", p.origin}, {"types", p.types}, {"threads", p.threads}, {"kv", p.kv}, {"bpw", p.bpw}, {"weight_mib", p.weight_mib},
          {"memory_mib", p.memory_mib}, {"kl", p.kl}, {"ppl", p.ppl}, {"top1", p.top1}, {"kl_test", p.kl_test}, {"ppl_test", p.ppl_test}, {"decode_ms", p.decode_ms}, {"decode_rounds", p.decode_rounds}, {"prefill_ms", p.prefill_ms},
          {"predicted_ms", p.predicted_ms},
          {"energy_mj", p.energy_mj}, {"energy_estimated_mj", p.energy_estimated_mj}, {"energy_measured_mj", p.energy_measured_mj}, {"frontier", p.frontier}, {"within_budget", p.within_budget}};
}

nlohmann::json to_json(const LlmTuneResult& r) {
  nlohmann::json j;
  j["tensors"] = r.tensors;
  j["formats"] = r.formats;
  j["groups"] = r.groups;
  j["sensitivity"] = r.sensitivity;
  j["points"] = nlohmann::json::array();
  for (const LlmTunePoint& p : r.points) j["points"].push_back(point_json(p));
  j["searched"] = nlohmann::json::array();
  for (const LlmTunePoint& p : r.searched) j["searched"].push_back(point_json(p));
  j["chosen"] = r.chosen;
  j["reason"] = r.reason;
  j["ppl_base"] = r.ppl_base;
  j["eval_tokens"] = r.eval_tokens;
  j["measured"] = r.measured;
  j["from_cache"] = r.from_cache;
  j["lab_spilled"] = r.lab_spilled;
  j["lab_read_back"] = r.lab_read_back;
  j["generations_run"] = r.generations_run;
  j["stopped_by_budget"] = r.stopped_by_budget;
  j["seconds"] = r.seconds;
  j["written"] = r.written;
  j["calibration"] = r.calibration;
  j["energy_source"] = r.energy_source;
  j["cost_model"] = {{"constant_ms", r.cost_constant_ms}, {"scale", r.cost_scale}, {"median_relative_error", r.cost_model_error}};
  j["notes"] = r.notes;
  return j;
}

// The searched points (bits per weight against KL) with the timed ones'
// labels: the front of the search, the uniform formats, the anchors.
std::string plot_of(const LlmTuneResult& r, const std::string& model) {
  std::vector<TunePlotPoint> pts;
  const LlmTunePoint& chosen = r.points[size_t(r.chosen)];
  for (const LlmTunePoint& p : r.searched) pts.push_back({p.label, p.bpw, std::max(p.kl, 1e-9), "other", p.label == chosen.label});
  for (const LlmTunePoint& p : r.points)
    if (p.origin == "anchor" && p.threads == r.points.front().threads) pts.push_back({p.label, p.bpw, std::max(p.kl, 1e-9), "anchor", p.label == chosen.label});
  // The line: the searched points no plotted point beats on both bits and KL.
  for (TunePlotPoint& p : pts) {
    if (p.kind == "anchor") continue;
    bool beaten = false;
    for (const TunePlotPoint& q : pts) beaten |= q.x <= p.x && q.y <= p.y && (q.x < p.x || q.y < p.y);
    if (!beaten) p.kind = "front";
  }
  std::vector<std::vector<std::string>> table{
      {"point", "threads", "KV cache", "bits/weight", "KL", "perplexity", "KL held out", "perplexity held out", "decode ms", "memory MiB", "energy mJ", ""}};
  char b[64];
  auto f = [&](const char* fmt, double v) {
    std::snprintf(b, sizeof b, fmt, v);
    return std::string(b);
  };
  for (size_t i = 0; i < r.points.size(); ++i) {
    const LlmTunePoint& p = r.points[i];
    table.push_back({p.label, std::to_string(p.threads), p.kv, f("%.3f", p.bpw), f("%.3e", p.kl), f("%.3f", p.ppl),
                     p.kl_test < 0 ? "-" : f("%.3e", p.kl_test), p.ppl_test < 0 ? "-" : f("%.3f", p.ppl_test), f("%.4f", p.decode_ms),
                     f("%.3f", p.memory_mib), f("%.4f", p.energy_mj),
                     std::string(p.frontier ? "front" : "") + (int(i) == r.chosen ? " chosen" : "")});
  }
  return render_tune_plot("pareto tune: " + model + " (" + std::to_string(r.searched.size()) + " measured mixes)", "bits per weight",
                          "mean KL divergence from the base model, nats per token", true, pts, table);
}

}  // namespace

int cmd_tune_llm(const Args& a) {
  if (a.positional.size() != 1 || !a.has("--eval") || !(a.has("-o") || a.has("--output")))
    fail_argument("usage: pareto tune MODEL.gguf --eval TEXT -o OUT.gguf [--formats f16,q8_0,...] [--method rtn[,gptq][,awq]] [--calib TEXT] [--calib-tokens 512] "
                  "[--kv f16[,q8,f32]] [--group tensor|layer|kind|kind-split] [--threads 1,2] [--ctx 128] [--chunks N] "
                  "[--points 8] [--time-points 0] [--generations 8] [--population 16] [--seed 1] [--time-budget S] [--max-timed 12] [--anchor FILE.gguf]... "
                  "[--max-latency MS] [--max-memory MIB] [--max-bpw B] [--max-energy MJ] [--max-kl X] "
                  "[--objective latency|memory|bpw|energy|quality] [--cache FILE] [--test TEXT] [--plot FILE.html] [--runs 1] [--rounds 4] [--lab-memory 2048] [--no-energy] [--explain] [--json]");
  const std::string in = a.positional[0], out = a.has("-o") ? a.get("-o") : a.get("--output");
  if (a.has("--plot") && std::filesystem::absolute(a.get("--plot")).lexically_normal() == std::filesystem::absolute(out).lexically_normal())
    fail_argument("--plot and -o name the same file");
  LlmTuneOptions o;  // its defaults are the command's (one place to change them)
  if (a.has("--formats")) o.formats = a.get("--formats");
  o.group = a.get("--group", o.group);
  o.methods = a.get("--method", o.methods);
  if ((a.has("--calib") || a.has("--calib-tokens")) && o.methods.find("gptq") == std::string::npos && o.methods.find("awq") == std::string::npos)
    fail_argument("--calib and --calib-tokens are GPTQ's and AWQ's calibration: add --method rtn,gptq or rtn,awq");
  if (a.has("--calib")) o.calib_text = read_text(a.get("--calib"));
  o.calib_tokens = a.get_int("--calib-tokens", o.calib_tokens, 16, 1 << 20);
  o.kv_types = parse_name_list(a.get("--kv", "f16"), "--kv");
  const std::vector<int64_t> threads = parse_int_list(a.has("-t") ? a.get("-t") : a.get("--threads", "1"), "--threads", 1, 1024);
  o.threads.assign(threads.begin(), threads.end());
  o.ctx = a.get_int("--ctx", o.ctx, 8, 1 << 20);
  o.max_chunks = a.get_int("--chunks", o.max_chunks, 0, 1 << 20);
  o.points = int(a.get_int("--points", o.points, 0, 256));
  o.time_points = int(a.get_int("--time-points", o.time_points, 0, 256));
  o.generations = int(a.get_int("--generations", o.generations, 0, 100000));
  o.population = int(a.get_int("--population", o.population, 0, 100000));
  o.seed = uint64_t(a.get_int("--seed", int64_t(o.seed), 0, INT64_MAX));
  o.time_budget_s = a.get_double("--time-budget", 0, 0, 1e9);
  o.max_timed = int(a.get_int("--max-timed", o.max_timed, 0, 256));
  o.runs = int(a.get_int("--runs", o.runs, 1, 100000));
  o.rounds = int(a.get_int("--rounds", o.rounds, 1, 100));
  o.anchors = a.all("--anchor");
  o.max_latency_ms = a.get_double("--max-latency", 0, 0, 1e9);
  o.max_memory_mib = a.get_double("--max-memory", 0, 0, 1e9);
  o.max_bpw = a.get_double("--max-bpw", 0, 0, 64);
  o.max_energy_mj = a.get_double("--max-energy", 0, 0, 1e12);
  o.max_kl = a.get_double("--max-kl", a.get_double("--max-quality-loss", 0, 0, 1e9), 0, 1e9);
  o.objective = a.get("--objective", o.objective);
  o.cache = a.get("--cache");
  o.lab_memory_mib = a.get_int("--lab-memory", o.lab_memory_mib, 0, int64_t(1) << 30);
  if (a.has("--test")) o.test_text = read_text(a.get("--test"));
  o.energy = !a.has("--no-energy");
  o.progress = [](const std::string& line) { std::fprintf(stderr, "tune %s\n", line.c_str()); };
  const LlmTuneResult r = take(tune_llm_model(in, out, read_text(a.get("--eval")), o));
  if (a.has("--plot")) {
    std::ofstream f(a.get("--plot"), std::ios::binary);
    f << plot_of(r, in);
    if (!f) fail(StatusCode::io_error, "cannot write the plot " + a.get("--plot"));
  }
  if (a.has("--json")) {
    std::printf("%s\n", to_json(r).dump(2).c_str());
    return 0;
  }
  std::printf("KL: mean KL divergence from %s (f16 KV cache) on %lld scored tokens (base perplexity %.4f); memory: weights + KV cache of %lld tokens; "
              "energy per decoded token: %s\n",
              in.c_str(), static_cast<long long>(r.eval_tokens), r.ppl_base, static_cast<long long>(o.ctx), r.energy_source.c_str());
  print_points(r);
  const LlmTunePoint& best = r.points[size_t(r.chosen)];
  std::printf("chosen: %s at %d thread(s): %s\nwrote %s: %s; %d mixes measured (%d from the cache), %d generations%s; %.1f s\n", best.label.c_str(),
              best.threads, r.reason.c_str(), out.c_str(), r.written.c_str(), r.measured + r.from_cache, r.from_cache, r.generations_run,
              r.stopped_by_budget ? " (stopped by the time budget)" : "", r.seconds);
  std::printf("cost model (predicted, %d thread(s), %s KV): %.4f ms + %.3f x the sum of one-token matmul times, fitted on the uniform points; ",
              o.threads.front(), o.kv_types.front().c_str(), r.cost_constant_ms, r.cost_scale);
  if (r.cost_model_error >= 0) std::printf("median error on the other timed points %.1f%%\n", 100 * r.cost_model_error);
  else std::printf("no other timed point to check it on\n");
  if (!r.calibration.empty()) std::printf("calibration (GPTQ, AWQ): %s\n", r.calibration.c_str());
  if (r.lab_spilled > 0)
    std::printf("lab memory: %d quantized matrices moved to a temporary file past --lab-memory %lld MiB, %d read back\n", r.lab_spilled,
                static_cast<long long>(o.lab_memory_mib), r.lab_read_back);
  for (const std::string& n : r.notes) std::printf("note: %s\n", n.c_str());
  if (a.has("--explain")) print_explain(r);
  return 0;
}

}  // namespace pareto::tools
