// pareto tune, ONNX CNNs: which convs to run in int8, bf16 or fp32 and with
// how many threads, chosen from measured points rather than assumed ones.
// The search: every conv's sensitivity (output error with only it in int8,
// or only it in bf16) and time saved (per-node times of the all-fp32,
// all-int8 and all-bf16 models), a greedy path whose every step is the one
// conv move (fp32 -> bf16 -> int8) that saves the most time per unit of
// error, a few points along it plus the anchors (all fp32, int8 with the
// first and last conv float as `pareto quantize` writes by default, all
// int8, all bf16, int8 with bf16 ends), each one quantized, run, scored
// (output error; the task's own metric when given, such as the OCR set's
// CER) and timed at every thread count, its energy estimated; the Pareto
// front over latency, memory, energy and quality; and the point the budgets
// allow.
//
//   pareto::OnnxTuneOptions o;
//   o.max_quality_loss = 0.05;
//   auto r = pareto::tune_onnx_model("det.onnx", "det.tuned.onnx", calib, eval, o);
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pareto/pareto.hpp"
#include "pareto/quantize_onnx.hpp"

namespace pareto {

// What one candidate costs: measured by running it.
struct TuneCost {
  double latency_ms = 0;  // median over the timed runs
  double memory_mib = 0;  // peak memory (what the measure reports; see memory_what)
};

// Runs the candidate model file at `threads` on `inputs` and returns its
// cost. The default (null) measures in this process: the median of timed
// runs and the session's activation arena. `pareto tune` measures each
// candidate in a child `pareto bench` process instead (peak RSS).
using TuneMeasure = std::function<TuneCost(const std::string& model_path, int threads, const CalibrationSample& inputs)>;

struct OnnxTuneOptions {
  // Conv formats searched besides fp32: "int8", "bf16" or "int8,bf16". With
  // bf16 every candidate is compiled (a .pareto artifact: the per-conv
  // compute precision travels in it, an ONNX file has no place for it),
  // timed so, and the output must be a .pareto path.
  std::string formats = "int8";
  // Activation ranges, as pareto quantize (minmax, percentile, entropy, mse,
  // or dynamic: per run), each with "+gptq" after it for weights rounded by
  // GPTQ (pareto quantize --weights gptq; each layer's codes chosen once,
  // in the model with every layer int8, and shared by the candidates).
  // A comma-separated list searches each: the anchors and the greedy path
  // are quantized and measured once per method (the sensitivities and the
  // path's order come from the first calibrated one).
  std::string method = "percentile";
  double percentile = 99.99;
  // Inputs bound to constants first (silero VAD: sr=16000, whose convs live
  // in If branches until then): the specialized model is what is tuned,
  // measured and written; samples need not hold these inputs.
  std::map<std::string, Tensor> constant_inputs;
  std::vector<int> threads = {1};     // thread counts every point is timed at
  int points = 6;                     // points along the greedy path, besides the anchors
  // Evolutionary search after the greedy path (first calibration method):
  // children of the measured mixes by Pareto-rank tournament over the
  // per-node cost model's time and the measured quality, uniform crossover,
  // one conv moved one format step; seeded. Each child is quantized and
  // scored; the ones on the (predicted time, quality) front are timed, at
  // most max_timed of them.
  int generations = 2, population = 8;
  uint64_t seed = 1;
  int max_timed = 8;
  // Measured qualities (output error, task metric) kept in this JSON-lines
  // file, keyed by the model file, the samples, the kernels and the mix: a
  // rerun measures only what is new. task_metric_key names what the task
  // metric reads (its data), so another set is not taken for this one.
  std::string cache;
  std::string task_metric_key;
  // Timing rounds over all candidates in turn, the order reversed every
  // other round; a point's latency is the median of its rounds (an even
  // count: the mean of the middle two, so a drift linear in time adds the
  // same to every point, as in the LLM tune).
  int rounds = 4;
  // "fastest": a point's latency is the fastest of its rounds instead, for
  // a machine whose disturbances only ever slow a run down (a VM whose vCPU
  // runs 40% slower for minutes at a time: a spell that began mid-run sits
  // in the median of the points timed after it in three rounds of five).
  std::string round_latency = "median";
  int runs = 10, warmup = 3;          // per timing (the in-process measure, and the per-node profiles);
                                      // timings run the first evaluation sample, compiled for its shapes
  // Budgets (0: none). Quality loss: relative L2 error of the outputs
  // against the float model on the evaluation samples.
  double max_latency_ms = 0, max_memory_mib = 0, max_quality_loss = 0;
  double max_energy_mj = 0;           // estimated mJ per inference
  // The task's own metric of a candidate model file, lower is better (the
  // OCR set's character error rate with the candidate in the pipeline, a
  // VAD boundary error ...): measured once per candidate. max_task_loss
  // bounds its rise over the fp32 model's (0 with max_task_loss_set: no rise).
  std::function<double(const std::string& model_path)> task_metric;
  std::string task_metric_name = "task metric";
  double max_task_loss = 0;
  bool max_task_loss_set = false;
  bool energy = true;                 // estimate each point's energy per inference (the profiler's device model)
  // Powercap (RAPL) counters read around the energy profile of every timed
  // point; where each point got a reading, energy_mj is the measured one.
  std::string powercap_root = "/sys/class/powercap";
  std::string objective = "latency";  // what the chosen point minimizes: latency, memory, energy, quality (output error) or task
  std::string work_dir;               // where candidate files go (default: next to the output)
  // Past this many seconds no further greedy point or evolved child is
  // scored (0: no limit); fp32 and the anchors are always measured.
  double time_budget_s = 0;
  TuneMeasure measure;                // null: in-process
  std::string memory_what = "activation arena";  // what TuneCost::memory_mib is, for the report
  std::function<void(const std::string& line)> progress;  // one line per step, with elapsed and remaining time
};

struct OnnxTuneLayer {
  std::string node;
  double sensitivity = 0;        // output error with only this conv in int8
  double bf16_sensitivity = 0;   // ... only this conv in bf16 (bf16 searched)
  double fp32_ms = 0, int8_ms = 0, bf16_ms = 0;  // its node time in the all-fp32, all-int8 and all-bf16 models (median, first thread count)
  int order = -1;                // the greedy step that first moves it off fp32 (-1: never: no format saves time there)
};

struct OnnxTunePoint {
  std::string label;                    // "fp32", "greedy 5", "int8 float ends", "int8 all" (+ " METHOD" when several are searched)
  std::vector<std::string> int8_layers;  // convs in int8
  std::vector<std::string> bf16_layers;  // convs in bf16 (the others fp32)
  std::string method;                    // their activation ranges and weight rounding (empty: no int8 conv)
  int threads = 1;
  TuneCost cost;
  std::vector<double> latency_rounds_ms;  // each timing round's latency, in round order (cost.latency_ms: their median or fastest)
  double quality_loss = 0;
  double task_metric = -1;     // OnnxTuneOptions::task_metric of the point's model (-1: none given)
  double energy_mj = 0;        // per inference, what the front and budgets use: measured where every point was, else estimated (0: neither)
  double energy_estimated_mj = 0, energy_measured_mj = -1;  // the profiler's device model; powercap (-1: no reading)
  double predicted_ms = 0;     // the per-node cost model's time (first thread count)
  bool frontier = false;       // no other point is at least as good on latency, memory, energy, quality loss and task metric and better on one
  bool within_budget = false;
};

struct OnnxTuneResult {
  std::vector<OnnxTuneLayer> layers;  // every quantizable conv, in graph order
  std::vector<OnnxTunePoint> points;
  int chosen = -1;                    // index into points
  std::string reason;                 // why that one
  std::string memory_what;
  std::string energy_source;     // "measured (powercap: ...)" or "estimated (...; why no measurement)"
  std::string task_metric_name;  // empty: no task metric
  int eval_samples = 0;
  double seconds = 0;
  int skipped_by_budget = 0;  // greedy candidates left unmeasured by time_budget_s (each would be timed at every thread count)
  int evolved_skipped_by_budget = 0;  // evolved children not scored once time_budget_s was spent (at least; 0: the search ran out)
  std::vector<OnnxTunePoint> searched;  // every scored mix (quality, predicted time; not all timed)
  int measured = 0, from_cache = 0;     // scored mixes measured now / read from the cache
  int generations_run = 0;              // whole generations
};

// Tunes `in` on the calibration samples (ranges) and the evaluation
// samples (quality and timing input; the calibration samples when empty),
// writes the chosen point's model to `out` (the float model itself when no
// conv is int8; a compiled .pareto when `out` ends in .pareto, which bf16
// needs), and reports every measured point. Fails, naming the
// budgets, when no point meets them.
Result<OnnxTuneResult> tune_onnx_model(const std::string& in, const std::string& out, const std::vector<CalibrationSample>& calib,
                                       const std::vector<CalibrationSample>& eval, const OnnxTuneOptions& options = {});

// pareto tune, GGUF LLMs: a weight type per tensor. Quality is the mean KL
// divergence of the candidate's next-token distribution from the base
// model's on held-out text (and its perplexity), measured for every point
// reported; bits per weight are exact; decode latency is timed, memory is
// the weights plus the KV cache, energy per decoded token comes from the
// profiler's device model (an estimate). The search: per-tensor
// sensitivity, a greedy path by bytes saved per unit of KL, an
// evolutionary search seeded with it, the uniform formats and llama.cpp's
// mixes rebuilt by its rules (quant/mix_search.h, quant/llama_mixes.h),
// anchors made elsewhere (llama.cpp's files) measured as they are.
struct LlmTuneOptions {
  std::string formats = "f16,q8_0,q6_k,q5_k,q5_0,q4_k,q4_0,q3_k";  // candidate types, any order
  std::string group = "tensor";  // search unit: tensor, layer (attention / FFN block), kind (e.g. every ffn_down)
                               // or kind-split (each kind in llama.cpp's more-bits layers and in the rest)
  // Rounding methods: "rtn" (round to nearest) and any of "gptq" (GPTQ on
  // calibration activations, per tensor, for layer matrices in the types it
  // writes) and "awq" (AWQ's scales and clipping, per layer block: with
  // group "layer" only, since a block's scales fold into its norm and into
  // v's or up's rows), comma-separated: each format is offered every way.
  std::string methods = "rtn";
  std::string calib_text;     // GPTQ's and AWQ's calibration text; empty: text the base model samples itself (seeded)
  int64_t calib_tokens = 512;
  // KV cache types every timed point runs with ("f16", "q8", "f32"); the
  // KL of a point with another cache than f16 is measured with it.
  std::vector<std::string> kv_types = {"f16"};
  int64_t ctx = 128;         // evaluation chunk length (tokens)
  int64_t max_chunks = 0;    // 0: the whole text
  std::vector<int> threads = {1};
  // Timing of each shown point: `runs` runs (after one to warm up) per
  // round, the decode step's median; `rounds` rounds over all points in
  // turn, the order reversed every other round, a point's time the median
  // of its rounds (the mean of the middle two of an even count: with an
  // even count, a drift linear in time adds the same to every point).
  int prompt_tokens = 16, decode_tokens = 16, runs = 1, rounds = 4;
  int points = 8, generations = 8, population = 16;
  // Points along a second greedy path, each step the move saving the most
  // predicted decode time (the cost model's one-token matmul times) per
  // unit of KL; 0: none.
  int time_points = 0;
  uint64_t seed = 1;
  double time_budget_s = 0;  // the evolutionary search stops past it (0: no limit)
  // Search points timed besides the seeds (uniform formats, llama.cpp's
  // mixes) and anchors, spread over the fronts; the points picked for each
  // anchor's size and KL and the budgets (the least-KL point within each
  // size, the smallest and the three predicted fastest within each KL)
  // are timed on top of these.
  int max_timed = 12;
  std::vector<std::string> anchors;  // GGUF files of the same model made elsewhere, measured as they are
  // Budgets (0: none): decode ms per token, MiB of weights + KV cache, bits
  // per weight, mJ per decoded token (estimated), mean KL.
  double max_latency_ms = 0, max_memory_mib = 0, max_bpw = 0, max_energy_mj = 0, max_kl = 0;
  std::string objective = "latency";  // latency, memory, bpw, energy or quality
  std::string cache;  // JSON-lines file of measured qualities: read first, appended to (a rerun resumes)
  // MiB of quantized matrices kept in memory; the least recently used past
  // it wait in a temporary file ($TMPDIR) until used again.
  int64_t lab_memory_mib = 2048;
  // Held-out text: the timed points' KL and perplexity on it too (the search
  // and the choice see only the evaluation text, so this one is unbiased).
  std::string test_text;
  bool energy = true;  // profile each timed point for its energy estimate
  std::string powercap_root = "/sys/class/powercap";  // measured energy where the counters are readable (as OnnxTuneOptions)
  std::function<void(const std::string& line)> progress;
};

struct LlmTunePoint {
  std::string label;   // "uniform q4_0", "greedy 12", "evolved g3", "anchor FILE"
  std::string origin;  // uniform, mix (llama.cpp's mixes by its rules), search, anchor
  std::vector<std::string> types;  // per tensor (LlmTuneResult::tensors); empty for anchors
  int threads = 1;
  std::string kv = "f16";  // the KV cache type it ran with (a run setting: --kv)
  double bpw = 0;
  double weight_mib = 0, memory_mib = 0;  // matrices as stored; weights + KV cache
  double kl = 0, ppl = 0, top1 = 0;
  double kl_test = -1, ppl_test = -1;  // on the held-out text (-1: none given)
  double decode_ms = 0, prefill_ms = 0;
  std::vector<double> decode_rounds;  // decode ms per timing round, in the order timed (decode_ms: their median)
  double energy_mj = 0;  // per decoded token: measured where every timed point was, else estimated
  double energy_estimated_mj = 0, energy_measured_mj = -1;  // the profiler's device model; powercap (-1: no reading)
  // The cost model's decode ms (quant/mix_cost.h) at the first thread
  // count and KV type; -1 for anchors (their types are the file's).
  double predicted_ms = -1;
  bool frontier = false, within_budget = false;
};

struct LlmTuneResult {
  std::vector<std::string> tensors, formats;
  std::vector<std::string> groups;               // the search units (tensor names, or groups of them)
  std::vector<std::vector<double>> sensitivity;  // [group][format]
  // The cost model: decode ms = constant + scale x the sum of the mix's
  // one-token matmul times; fitted on the uniform points, and its median
  // relative error on the other timed search points (-1: none).
  double cost_constant_ms = 0, cost_scale = 1, cost_model_error = -1;
  std::string energy_source;  // "measured (powercap: ...)" or "estimated (...; why no measurement)"
  std::string calibration;             // GPTQ's calibration tokens, in words (empty: no GPTQ)
  std::vector<std::string> notes;      // GPTQ fallbacks to rounding, named
  std::vector<LlmTunePoint> points;    // the timed points, each at every thread count and KV type
  std::vector<LlmTunePoint> searched;  // every measured mix (quality and size; not timed)
  int chosen = -1;                     // index into points
  std::string reason;
  double ppl_base = 0;
  int64_t eval_tokens = 0;
  int measured = 0, from_cache = 0, generations_run = 0;
  int lab_spilled = 0, lab_read_back = 0;  // quantized matrices moved to disk past lab_memory_mib / read back
  int time_path_mixes = 0;  // mixes on the greedy path by time, its start included (0: no such path: time_points 0)
  bool stopped_by_budget = false;
  double seconds = 0;
  std::string written;  // what was written to the output, in words
};

// Tunes the GGUF `in` on `eval_text`, writes the chosen point to `out`
// (a GGUF with a type per tensor; an anchor file is copied as it is).
Result<LlmTuneResult> tune_llm_model(const std::string& in, const std::string& out, const std::string& eval_text,
                                     const LlmTuneOptions& options = {});

// A self-contained HTML page (inline SVG, no script, nothing fetched)
// plotting measured points: x against y, the front and the chosen point
// marked, and a table of them.
struct TunePlotPoint {
  std::string label;
  double x = 0, y = 0;
  std::string kind;  // "front", "other", "anchor"
  bool chosen = false;
};
std::string render_tune_plot(const std::string& title, const std::string& x_label, const std::string& y_label, bool log_y,
                             const std::vector<TunePlotPoint>& points, const std::vector<std::vector<std::string>>& table);


}  // namespace pareto
