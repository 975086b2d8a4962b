// pareto public C++ API: load an ONNX model, run it, inspect it.
// Every call that can fail on model or user input returns a Status/Result;
// nothing here throws or aborts on bad input.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pareto/error.h"
#include "pareto/limits.hpp"
#include "pareto/tensor.h"

namespace pareto {

struct Status {
  StatusCode code = StatusCode::ok;
  std::string message;
  bool ok() const { return code == StatusCode::ok; }
  std::string to_string() const { return ok() ? "ok" : std::string(status_code_name(code)) + ": " + message; }
};

template <class T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : status_(std::move(status)) {}
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::undefined;
  bool rank_known = false;
  Shape dims;  // -1 where unknown or symbolic
  std::vector<std::string> dim_params;
  // Quantization the file declares (TFLite): real = scale * (q - zero_point),
  // one pair per tensor or per channel of quant_axis; empty when none.
  std::vector<float> quant_scale;
  std::vector<int64_t> quant_zero;
  int64_t quant_axis = 0;
  std::string to_string() const;
};

struct SessionOptions {
  int threads = 1;
  bool profile = false;
  // Run the graph compiler at load (constant folding, BatchNorm and affine
  // folding, re-parameterization, activation and residual fusion; see
  // docs/ARCHITECTURE.md). `shapes` binds input shapes to specialize for
  // (folds shape arithmetic, proves residual shapes); the model then only
  // accepts inputs of those shapes.
  bool optimize = false;
  std::map<std::string, Shape> shapes;
  // Inputs fixed to a value at compile time (with optimize): they become
  // constants, so control flow on them folds away (silero's sample rate).
  // run() still accepts them, and checks the value is the same.
  std::map<std::string, Tensor> constant_inputs;
  // Conv compute precision (with optimize): "fp32", "bf16" (weights and
  // activations rounded to bf16, f32 sums; AVX512-BF16, AMX-BF16 or Arm
  // BF16 kernels) or "f16" (Arm FEAT_FP16: operands in f16 after an exact
  // power-of-two scaling, sums in f16 over 32 products then in f32; a conv
  // whose input is out of that range runs in f32). Where the CPU lacks the
  // kernels the marked convs run in f32. Depthwise convs, the 3x3 convs
  // Winograd serves and the nodes named in precision_keep stay f32.
  std::string conv_precision = "fp32";
  std::vector<std::string> precision_keep;
  // When not empty, only these nodes are given conv_precision (a per-layer
  // mix: pareto tune's bf16 choice); every other node stays f32.
  std::vector<std::string> precision_only;
  // Conv weights packed by the compiler into the graph (kept by save()):
  // a saved artifact then starts without packing. pareto compile sets it.
  bool prepack_weights = false;
  // What the model may make pareto allocate (pareto/limits.hpp): by default
  // the limits in force where the options are made.
  Limits limits = current_limits();
};

// The arena plan of an optimized session (all zero without one).
struct MemorySummary {
  size_t arena_bytes = 0;   // one allocation for every planned intermediate
  size_t naive_bytes = 0;   // the same tensors allocated separately
  size_t lower_bound = 0;   // the most bytes live at any one point of the schedule
  size_t buffers = 0;
  std::string algorithm;
};

// What one compiler pass did.
struct PassSummary {
  std::string pass;
  size_t nodes_before = 0, nodes_after = 0;
  std::map<std::string, int> rewrites;  // pattern -> count
};

// A tensor a profiled op read or wrote (pareto profile's byte counts).
struct ProfileAccess {
  uint64_t id = 0;     // the memory's address: the same bytes again have the same id
  uint64_t bytes = 0;  // what the kernel reads (packed int8/bf16 weights at their size)
  bool weight = false;  // a graph constant; else an activation
  bool write = false;
};

struct ProfileEntry {
  std::string op_type;
  std::string node_name;
  double seconds = 0;  // exclusive of the nodes of its subgraphs
  Shape output_shape;
  int depth = 0;  // 0: the top-level graph; deeper: inside If/Loop bodies
  // Counted analytically from the run's shapes (docs/PROFILE.md): the
  // multiply-adds and their precision (fp32, bf16, fp16, int8), other
  // per-element arithmetic, and the tensors touched.
  std::string precision = "fp32";
  uint64_t macs = 0, elementwise_ops = 0;
  std::vector<ProfileAccess> accesses;
  uint64_t live_bytes = 0;  // activations held right after the op
  std::string kernel;  // the kernel path the op took ("int8 -> u8", "winograd", ...), where it names one
};

struct ModelSummary {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;
  std::string producer;
  std::map<std::string, int> op_histogram;  // includes subgraph nodes
  int64_t parameters = 0;
  size_t nodes = 0;
};

class Session {
 public:
  // Loads and verifies the model (.onnx, or a .pareto artifact written by
  // save(), which loads without protobuf and without re-optimizing); fails
  // with one message listing every unsupported operator before anything runs.
  static Result<std::unique_ptr<Session>> open(const std::string& path, const SessionOptions& options = {});
  ~Session();

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  // Runs with inputs by name; returns outputs in the order of outputs().
  Result<std::vector<Tensor>> run(const std::map<std::string, Tensor>& inputs);
  // Per-node timings since the last call (when options.profile is set).
  std::vector<ProfileEntry> take_profile();
  // Turns per-node recording on or off between runs (pareto profile times
  // whole runs without it: recording costs time of its own).
  void set_profiling(bool on);
  int threads() const;  // the width of the session's thread pool
  // With more than one thread, the first runs of each input shape are timed
  // to learn which nodes run faster on one thread (a few-microsecond node
  // loses more to waking the pool and moving its data between cores than
  // it gains); true until that is learned for every shape run so far.
  // Benchmarks warm up until it is false (warm_up).
  bool learning_threads() const;
  // Untimed runs before timing: `runs` of them, then on while
  // learning_threads() is true (64 more at most); per-node records are
  // dropped. Returns how many runs it made.
  Result<int> warm_up(const std::map<std::string, Tensor>& inputs, int runs);

  ModelSummary summary() const;
  // The compiler passes run at open (empty unless options.optimize).
  const std::vector<PassSummary>& passes() const;
  MemorySummary memory() const;
  // Writes the (optimized) graph, its memory plan and weights as a compiled
  // artifact that open() maps and uses in place.
  Status save(const std::string& path) const;
  // Printable IR, with static shapes resolved from `bound` input shapes.
  std::string graph_text(const std::map<std::string, Shape>& bound = {}) const;
  // Output shapes inferred statically from `bound` input shapes.
  std::vector<TensorInfo> infer_outputs(const std::map<std::string, Shape>& bound) const;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Monotonic wall clock in seconds, and this process's peak resident set
// size in bytes (0 where unknown): the probes behind every report.
double now_seconds();
size_t peak_rss_bytes();

// Library version and the CPU/kernels picked at start-up (with the core
// clusters read from sysfs).
std::string version();
std::string cpu_summary();
// The CLI's default thread count (library options keep threads = 1 unless
// set): the cpus of place_threads when set, else the performance cores (every
// cluster within half of the fastest one's capacity, or above 3/4 of the top
// clock without capacities; all cores when alike; one per physical core),
// limited to the cpus this process may run on.
int default_threads();
// Limits pool threads started from now on (and the calling thread) to the
// cpus of a hexadecimal mask ("0xF0"); strict pins thread i to the i-th of
// them. An empty mask with strict pins to the performance cores. Throws
// pareto::Error on a malformed mask.
void place_threads(const std::string& hex_mask, bool strict);
// The cpus the calling thread may run on now (sched_getaffinity: taskset,
// a cgroup cpuset, place_threads), ascending; empty where unknown.
std::vector<int> running_cpus();

}  // namespace pareto
