// pareto tune MODEL.onnx --calib DIR -o OUT.onnx|OUT.pareto [--eval DIR] [--formats int8[,bf16]] [--threads 1,2] [--points N]
//   [--runs N] [--rounds 3] [--generations 2] [--population 8] [--seed 1] [--max-timed 8] [--cache FILE] [--max-latency MS] [--max-memory MIB] [--max-energy MJ] [--max-quality-loss X] [--max-task-loss X]
//   [--objective latency|memory|energy|quality|task] [--method M[,M...]] [--time-budget S] [--calib-limit N]
//   [--ocr-set DIR --ocr-role det|cls|rec [--ocr-models DIR] [--ocr-every N] | --vad-set DIR] [--const NAME=VALUE]...
//   [--no-energy] [--in-process | --timing-cpu N] [--round-latency median|fastest] [--explain] [--json]
// Chooses per conv int8, bf16 or fp32 and the thread count from measured points
// (pareto/tune.hpp), prints the points with the Pareto front marked and the
// chosen one with the reason, and writes the chosen model. Each candidate is
// timed in a child `pareto bench` process (its median latency and peak RSS)
// unless --in-process (then memory is the activation arena).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli.h"
#include "tune_tasks.h"
#include "pareto/models.hpp"
#include "pareto/ocr.hpp"
#include "pareto/tensor_io.hpp"
#include "pareto/tune.hpp"

namespace pareto::tools {

namespace {

std::vector<int> thread_list(const Args& a) {
  const std::vector<int64_t> v = parse_int_list(a.has("-t") ? a.get("-t") : a.get("--threads", "1"), "--threads", 1, 1024);
  return std::vector<int>(v.begin(), v.end());
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The path of this executable (/proc/self/exe names the shell inside popen).
std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) fail(StatusCode::io_error, "cannot find the pareto executable (/proc/self/exe)");
  return std::string(buf, size_t(n));
}

// Files removed when the command ends, however it ends.
struct RemovedAtExit {
  std::vector<std::string> paths;
  ~RemovedAtExit() {
    for (const std::string& p : paths) std::remove(p.c_str());
  }
};

// A hexadecimal mask of the one cpu `cpu` (pareto's --cpu-mask syntax).
std::string single_cpu_mask(int cpu) {
  static const char* const digits = "1248";
  return std::string("0x") + digits[cpu % 4] + std::string(size_t(cpu / 4), '0');
}

// The candidate timed alone in a child process, as bench/compare_ort.sh
// times models: `pareto bench --json` on the first evaluation sample
// (written once as .npy files named by this process; listed in `files`).
// timing_cpu >= 0: the 1-thread timings run pinned there (--cpu-mask), and
// each child's report must say it ran on that cpu alone; timings at more
// threads run wherever the OS puts them.
TuneMeasure child_bench(const std::string& work, int runs, int warmup, const CalibrationSample& x, int timing_cpu, RemovedAtExit* files) {
  const std::string exe = self_path();
  std::string args;
  for (const auto& [name, t] : x) {
    const std::string file = work + "/.tune-" + std::to_string(getpid()) + "-input-" + std::to_string(files->paths.size()) + ".npy";
    files->paths.push_back(file);
    const Status st = write_npy(file, t);
    if (!st.ok()) fail(st.code, st.message);
    std::string dims;
    for (int64_t d : t.shape()) dims += (dims.empty() ? "" : ",") + std::to_string(d);
    args += " --input " + quoted(name + "=" + file) + " --shape " + quoted(name + "=" + dims);
  }
  return [exe, args, runs, warmup, timing_cpu](const std::string& model, int threads, const CalibrationSample&) {
    const bool pinned = timing_cpu >= 0 && threads == 1;
    const std::string cmd = quoted(exe) + " bench " + quoted(model) + " -O --json --warmup " + std::to_string(warmup) + " --runs " +
                            std::to_string(runs) + " --threads " + std::to_string(threads) +
                            (pinned ? " --cpu-mask " + single_cpu_mask(timing_cpu) : std::string()) + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) fail(StatusCode::io_error, "cannot start pareto bench for " + model);
    std::string text;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
    const int status = pclose(p);
    const size_t brace = text.find('{');
    if (status != 0 || brace == std::string::npos) fail(StatusCode::internal, "pareto bench on " + model + " failed: " + text);
    const nlohmann::json j = nlohmann::json::parse(text.substr(brace));
    if (pinned && j.value("cpus", std::vector<int>{}) != std::vector<int>{timing_cpu})
      fail(StatusCode::internal, "pareto bench on " + model + " ran on cpus " + j.value("cpus", nlohmann::json::array()).dump() +
                                     ", not on cpu " + std::to_string(timing_cpu) + " alone (--timing-cpu)");
    return TuneCost{j.at("median_ms").get<double>(), j.at("peak_rss_bytes").get<double>() / (1 << 20)};
  };
}

std::vector<CalibrationSample> samples_of(const Session& s, const std::string& dir, int limit) {
  std::vector<std::string> names;
  for (const TensorInfo& t : s.inputs()) names.push_back(t.name);
  return take(load_calibration_npy(dir, names, limit));
}

void print_points(const OnnxTuneResult& r) {
  const bool task = !r.task_metric_name.empty();
  std::printf("%-28s %11s %11s %7s %12s %12s %10s %13s %12s %s\n", "point", "int8 convs", "bf16 convs", "threads", "latency ms", "memory MiB", "energy mJ",
              "quality loss", task ? r.task_metric_name.c_str() : "", "");
  for (size_t i = 0; i < r.points.size(); ++i) {
    const OnnxTunePoint& p = r.points[i];
    const std::string n = std::to_string(p.int8_layers.size()) + "/" + std::to_string(r.layers.size());
    const std::string b = std::to_string(p.bf16_layers.size()) + "/" + std::to_string(r.layers.size());
    char metric[32] = "";
    if (task) std::snprintf(metric, sizeof metric, "%.4f", p.task_metric);
    std::printf("%-28s %11s %11s %7d %12.3f %12.1f %10.3f %13.3e %12s %s%s%s\n", p.label.c_str(), n.c_str(), b.c_str(), p.threads, p.cost.latency_ms,
                p.cost.memory_mib, p.energy_mj, p.quality_loss, metric, p.frontier ? "front" : "", p.within_budget ? "" : " over budget",
                int(i) == r.chosen ? "  <- chosen" : "");
  }
}

void print_explain(const OnnxTuneResult& r, const std::string& methods) {
  const OnnxTunePoint& best = r.points[size_t(r.chosen)];
  // Sensitivities and the greedy ranks come from the first method searched.
  if (methods.find(',') != std::string::npos)
    std::printf("\nsensitivity and greedy rank with %s calibration; the chosen point uses %s\n", methods.substr(0, methods.find(',')).c_str(),
                best.method.empty() ? "no int8" : best.method.c_str());
  std::printf("\n%-28s %6s %12s %12s %9s %9s %9s %s\n", "conv", "format", "int8 error", "bf16 error", "fp32 ms", "int8 ms", "bf16 ms", "why");
  auto has = [](const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
  for (const OnnxTuneLayer& l : r.layers) {
    const char* format = has(best.int8_layers, l.node) ? "int8" : has(best.bf16_layers, l.node) ? "bf16" : "fp32";
    std::string why = l.order < 0 ? "no format saves time here" : "greedy step " + std::to_string(l.order + 1);
    if (std::string(format) == "fp32" && l.order >= 0) why += " (past the chosen point)";
    std::printf("%-28s %6s %12.3e %12.3e %9.3f %9.3f %9.3f %s\n", l.node.c_str(), format, l.sensitivity, l.bf16_sensitivity, l.fp32_ms, l.int8_ms,
                l.bf16_ms, why.c_str());
  }
}

nlohmann::json to_json(const OnnxTuneResult& r) {
  nlohmann::json j;
  for (const OnnxTuneLayer& l : r.layers)
    j["layers"].push_back({{"node", l.node}, {"sensitivity", l.sensitivity}, {"bf16_sensitivity", l.bf16_sensitivity}, {"fp32_ms", l.fp32_ms},
                           {"int8_ms", l.int8_ms}, {"bf16_ms", l.bf16_ms}, {"greedy_step", l.order}});
  for (const OnnxTunePoint& p : r.points)
    j["points"].push_back({{"label", p.label}, {"int8_layers", p.int8_layers}, {"bf16_layers", p.bf16_layers}, {"method", p.method}, {"threads", p.threads},
                           {"latency_ms", p.cost.latency_ms}, {"latency_rounds_ms", p.latency_rounds_ms}, {"predicted_ms", p.predicted_ms}, {"memory_mib", p.cost.memory_mib}, {"energy_mj", p.energy_mj}, {"energy_estimated_mj", p.energy_estimated_mj}, {"energy_measured_mj", p.energy_measured_mj},
                           {"quality_loss", p.quality_loss}, {"task_metric", r.task_metric_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.task_metric)},
                           {"frontier", p.frontier}, {"within_budget", p.within_budget}});
  j["task_metric"] = r.task_metric_name;
  j["chosen"] = r.chosen;
  j["reason"] = r.reason;
  j["memory"] = r.memory_what;
  j["energy_source"] = r.energy_source;
  j["eval_samples"] = r.eval_samples;
  j["skipped_by_budget"] = r.skipped_by_budget;
  j["evolved_skipped_by_budget"] = r.evolved_skipped_by_budget;
  j["seconds"] = r.seconds;
  j["measured"] = r.measured;
  j["from_cache"] = r.from_cache;
  j["generations_run"] = r.generations_run;
  for (const OnnxTunePoint& p : r.searched)
    j["searched"].push_back({{"label", p.label}, {"int8_layers", p.int8_layers}, {"bf16_layers", p.bf16_layers}, {"method", p.method},
                             {"predicted_ms", p.predicted_ms}, {"quality_loss", p.quality_loss},
                             {"task_metric", r.task_metric_name.empty() ? nlohmann::json(nullptr) : nlohmann::json(p.task_metric)}});
  return j;
}

// Latency against quality loss (or the task metric when there is one),
// every measured point (one per thread count).
void write_plot(const OnnxTuneResult& r, const std::string& model, const std::string& path) {
  const bool task = !r.task_metric_name.empty();
  std::vector<TunePlotPoint> pts;
  std::vector<std::vector<std::string>> table{{"point", "int8 convs", "bf16 convs", "threads", "latency ms", "memory MiB", "energy mJ", "quality loss",
                                               task ? r.task_metric_name : "", ""}};
  char b[5][32];
  auto y_of = [&](const OnnxTunePoint& p) { return std::max(task ? p.task_metric : p.quality_loss, 1e-9); };
  for (size_t i = 0; i < r.points.size(); ++i) {
    const OnnxTunePoint& p = r.points[i];
    const std::string label = p.label + " @" + std::to_string(p.threads);
    // The plot's front is the one of its two axes (the table's "front" is over every measure).
    bool front = true;
    for (const OnnxTunePoint& q : r.points)
      front &= !(q.cost.latency_ms <= p.cost.latency_ms && y_of(q) <= y_of(p) && (q.cost.latency_ms < p.cost.latency_ms || y_of(q) < y_of(p)));
    pts.push_back({label, p.cost.latency_ms, y_of(p), front ? "front" : "other", int(i) == r.chosen});
    std::snprintf(b[0], sizeof b[0], "%.3f", p.cost.latency_ms);
    std::snprintf(b[1], sizeof b[1], "%.1f", p.cost.memory_mib);
    std::snprintf(b[2], sizeof b[2], "%.2f", p.energy_mj);
    std::snprintf(b[3], sizeof b[3], "%.3e", p.quality_loss);
    std::snprintf(b[4], sizeof b[4], "%.4f", p.task_metric);
    const std::string n = "/" + std::to_string(r.layers.size());
    table.push_back({p.label, std::to_string(p.int8_layers.size()) + n, std::to_string(p.bf16_layers.size()) + n, std::to_string(p.threads), b[0], b[1], b[2],
                     b[3], task ? b[4] : "", std::string(p.frontier ? "front" : "") + (int(i) == r.chosen ? " chosen" : "")});
  }
  std::ofstream f(path, std::ios::binary);
  f << render_tune_plot("pareto tune: " + model, "latency, ms", task ? r.task_metric_name : "quality loss (relative L2 of the outputs)", !task, pts, table);
  if (!f) fail(StatusCode::io_error, "cannot write the plot " + path);
}

}  // namespace

// --timing-cpu N (-1 when absent): a cpu this process may run on, for the
// child processes' timings (not with --in-process, which times in this one).
static int timing_cpu_option(const Args& a, const std::vector<int>& threads) {
  if (!a.has("--timing-cpu")) return -1;
  if (a.has("--in-process")) fail_argument("--timing-cpu pins the timing child processes; --in-process has none");
  if (std::find(threads.begin(), threads.end(), 1) == threads.end()) fail_argument("--timing-cpu pins the 1-thread timings; --threads has no 1");
  const int cpu = int(a.get_int("--timing-cpu", 0, 0, 4095));
  const std::vector<int> cpus = running_cpus();
  if (cpus.empty()) fail_argument("--timing-cpu: this system does not say which cpus this process may run on");
  if (!std::binary_search(cpus.begin(), cpus.end(), cpu)) {
    std::string list;
    for (int c : cpus) list += (list.empty() ? "" : ",") + std::to_string(c);
    fail_argument("--timing-cpu " + std::to_string(cpu) + ": this process may run on cpus " + list + " only");
  }
  return cpu;
}

// Options of one model kind given to the other are refused, not ignored (a budget ignored is a wrong answer).
static void refuse_options_of_other_kind(const Args& a, bool gguf) {
  static const std::vector<std::string> llm_only = {"--ctx", "--chunks", "--anchor", "--max-bpw", "--max-kl", "--test", "--group", "--calib-tokens", "--kv",
                                                    "--time-points", "--lab-memory"};
  static const std::vector<std::string> onnx_only = {"--calib-limit", "--in-process", "--max-task-loss", "--timing-cpu", "--round-latency",
                                                     "--ocr-set", "--ocr-role", "--ocr-models", "--ocr-every", "--vad-set", "--const"};
  for (const std::string& k : gguf ? onnx_only : llm_only)
    if (a.has(k)) fail_argument(k + " is for " + (gguf ? "ONNX models" : "GGUF models") + ", not " + (gguf ? "GGUF" : "ONNX") + " ones");
}

int cmd_tune(const Args& a) {
  const bool gguf = a.positional.size() == 1 && a.positional[0].size() > 5 && a.positional[0].compare(a.positional[0].size() - 5, 5, ".gguf") == 0;
  refuse_options_of_other_kind(a, gguf);
  if (gguf) return cmd_tune_llm(a);
  if (a.positional.size() != 1 || !a.has("--calib") || !(a.has("-o") || a.has("--output")))
    fail_argument("usage: pareto tune MODEL.onnx --calib DIR -o OUT.onnx|OUT.pareto [--eval DIR] [--formats int8[,bf16]] [--threads 1,2] [--points N] "
                  "[--runs N] [--rounds 3] [--generations 2] [--population 8] [--seed 1] [--max-timed 8] [--cache FILE] [--max-latency MS] [--max-memory MIB] [--max-energy MJ] [--max-quality-loss X] [--max-task-loss X] "
                  "[--objective latency|memory|energy|quality|task] [--method minmax|percentile|entropy|mse[,...]] [--time-budget S] [--calib-limit N] "
                  "[--ocr-set DIR --ocr-role det|cls|rec [--ocr-models DIR] [--ocr-every N] | --vad-set DIR] [--const NAME=VALUE]... [--no-energy] [--in-process | --timing-cpu N] [--round-latency median|fastest] [--plot FILE.html] [--explain] [--json]");
  const std::string in = a.positional[0], out = a.has("-o") ? a.get("-o") : a.get("--output");
  if (a.has("--plot") && std::filesystem::absolute(a.get("--plot")).lexically_normal() == std::filesystem::absolute(out).lexically_normal())
    fail_argument("--plot and -o name the same file");
  OnnxTuneOptions o;
  o.threads = thread_list(a);
  const int timing_cpu = timing_cpu_option(a, o.threads);  // before any work: a wrong cpu is refused at once
  o.constant_inputs = parse_constants(a);  // bound first: the samples hold only the inputs left
  SessionOptions inputs_of;
  inputs_of.optimize = !o.constant_inputs.empty();  // constants are bound by the compiler (only then worth running it)
  inputs_of.constant_inputs = o.constant_inputs;
  auto s = take(Session::open(in, inputs_of));
  const int limit = int(a.get_int("--calib-limit", 16, 0, 1 << 20));
  const std::vector<CalibrationSample> calib = samples_of(*s, a.get("--calib"), limit);
  const std::vector<CalibrationSample> eval = a.has("--eval") ? samples_of(*s, a.get("--eval"), limit) : std::vector<CalibrationSample>{};
  o.method = a.get("--method", "percentile");
  o.time_budget_s = a.get_double("--time-budget", 0, 0, 1e9);
  o.points = int(a.get_int("--points", 6, 0, 64));
  o.runs = int(a.get_int("--runs", 10, 1, 100000));
  o.rounds = int(a.get_int("--rounds", o.rounds, 1, 100));
  o.round_latency = a.get("--round-latency", o.round_latency);
  o.generations = int(a.get_int("--generations", 2, 0, 1000));
  o.population = int(a.get_int("--population", 8, 0, 1000));
  o.seed = uint64_t(a.get_int("--seed", 1, 0, int64_t(1) << 62));
  o.max_timed = int(a.get_int("--max-timed", 8, 0, 256));
  o.cache = a.get("--cache", "");
  o.max_latency_ms = a.get_double("--max-latency", 0, 0, 1e9);
  o.max_memory_mib = a.get_double("--max-memory", 0, 0, 1e9);
  o.max_quality_loss = a.get_double("--max-quality-loss", 0, 0, 1e9);
  o.max_energy_mj = a.get_double("--max-energy", 0, 0, 1e9);
  o.formats = a.get("--formats", "int8");
  o.energy = !a.has("--no-energy");
  set_task_metric(a, o.threads.back(), o);
  o.max_task_loss_set = a.has("--max-task-loss");
  o.max_task_loss = a.get_double("--max-task-loss", 0, 0, 1e9);
  if (o.max_task_loss_set && !o.task_metric) fail_argument("--max-task-loss needs a task metric (--ocr-set or --vad-set)");
  o.objective = a.get("--objective", "latency");
  const bool json = a.has("--json");
  o.progress = [](const std::string& line) { std::fprintf(stderr, "tune %s\n", line.c_str()); };
  const size_t slash = out.find_last_of('/');
  o.work_dir = slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : out.substr(0, slash);
  RemovedAtExit inputs;  // the child processes' input files
  if (!a.has("--in-process")) {
    o.measure = child_bench(o.work_dir, o.runs, o.warmup, eval.empty() ? calib.front() : eval.front(), timing_cpu, &inputs);
    o.memory_what = "peak RSS of a pareto bench process";
  }
  const OnnxTuneResult r = take(tune_onnx_model(in, out, calib, eval, o));
  if (a.has("--plot")) write_plot(r, in, a.get("--plot"));
  if (json) {
    nlohmann::json j = to_json(r);
    j["timing_cpu"] = timing_cpu >= 0 ? nlohmann::json(timing_cpu) : nlohmann::json(nullptr);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (timing_cpu >= 0) std::printf("1-thread timings pinned to cpu %d (--timing-cpu)\n", timing_cpu);
  std::printf("quality loss: relative L2 of the outputs against the float model on %d %s samples; memory: %s; energy per inference: %s%s%s\n",
              r.eval_samples, eval.empty() ? "calibration" : "evaluation", r.memory_what.c_str(), r.energy_source.c_str(),
              r.task_metric_name.empty() ? "" : "; task metric: ", r.task_metric_name.c_str());
  print_points(r);
  if (r.skipped_by_budget > 0) std::printf("time budget: %d greedy candidates not measured\n", r.skipped_by_budget);
  if (r.evolved_skipped_by_budget > 0)
    std::printf("time budget: the evolutionary search stopped after %d whole generation(s), %d or more children not scored\n", r.generations_run,
                r.evolved_skipped_by_budget);
  std::printf("scored %zu mixes (%d measured, %d from the cache; %d evolutionary generations), timed %zu of them\n", r.searched.size(), r.measured,
              r.from_cache, r.generations_run, r.points.size() / std::max<size_t>(1, o.threads.size()));
  const OnnxTunePoint& best = r.points[size_t(r.chosen)];
  std::printf("chosen: %s at %d thread(s): %s\nwrote %s (%zu of %zu layers int8, %zu bf16); %.1f s\n", best.label.c_str(), best.threads, r.reason.c_str(),
              out.c_str(), best.int8_layers.size(), r.layers.size(), best.bf16_layers.size(), r.seconds);
  if (a.has("--explain")) print_explain(r, o.method);
  return 0;
}

}  // namespace pareto::tools
