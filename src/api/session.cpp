// The public Session: the only place where internal exceptions become Status.
#include <algorithm>
#include <cstring>
#include <new>

#include "core/cpu.h"
#include "core/cpu_topology.h"
#include "core/thread_pool.h"
#include "frontend/onnx/onnx_loader.h"
#include "frontend/tflite/tflite_loader.h"
#include "ir/printer.h"
#include "kernels/dispatch.h"
#include "api/guarded.h"
#include "core/file.h"
#include "frontend/artifact/artifact.h"
#include "passes/memory_plan.h"
#include "passes/passes.h"
#include "profile/onnx_cost.h"
#include "pareto/pareto.hpp"
#include "runtime/executor.h"
#include "runtime/shape_infer.h"

namespace pareto {

namespace {

using api::guarded;

TensorInfo info_of(const ir::Value& v, const ir::ValueType& t) {
  TensorInfo i;
  i.name = v.name;
  i.dtype = t.dtype;
  i.rank_known = t.rank_known;
  i.dims = t.dims;
  i.dim_params = t.dim_params;
  i.quant_scale = v.quant_scale, i.quant_zero = v.quant_zero, i.quant_axis = v.quant_axis;
  return i;
}

}  // namespace

std::string TensorInfo::to_string() const { return ir::type_to_string(ir::ValueType{dtype, rank_known, dims, dim_params}); }

struct Session::Impl {
  ir::Model model;
  SessionOptions options;
  std::unique_ptr<runtime::Executor> executor;
  std::vector<TensorInfo> inputs, outputs;
  std::vector<PassSummary> passes;
  std::map<std::string, Tensor> frozen;  // inputs turned into constants
  std::unique_ptr<ThreadPool> pool;       // this session's threads (options.threads wide)
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::open(const std::string& path, const SessionOptions& options) {
  return guarded([&] {
    // Constants are bound by the graph compiler: without it they would be ignored without a word.
    if (!options.constant_inputs.empty() && !options.optimize)
      fail_argument("constant inputs are bound by the graph compiler: open the session with optimize (-O)");
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    impl->pool = std::make_unique<ThreadPool>(std::max(1, options.threads));
    PoolScope scope(in_parallel_region() ? nullptr : impl->pool.get());  // constant folding runs kernels
    LimitsScope limits(options.limits);
    std::unique_ptr<ir::MemoryPlan> stored_plan;
    {
      auto f = MappedFile::open(path);
      if (artifact::is_artifact(f->data(), f->size())) {
        artifact::Compiled c = artifact::load_from_memory(f->data(), f->size(), path, f);
        impl->model = std::move(c.model);
        stored_plan = std::move(c.plan);
        impl->options.optimize = false;  // compiled already; the arena comes with it
      } else if (tflite::is_tflite(f->data(), f->size())) {
        impl->model = tflite::load_model_from_memory(f->data(), f->size(), path, f);
        impl->options.optimize = false;  // the graph passes know ONNX ops; TFLite's run as read
      } else {
        impl->model = onnx::load_model(path);
      }
    }
    ir::Graph& g = *impl->model.graph;
    runtime::check_supported(g);
    if (impl->options.optimize) {
      for (const auto& [name, shape] : options.shapes) {
        const int v = g.find_value(name);
        bool is_input = false;
        for (int i : g.inputs) is_input |= i == v;
        if (!is_input) fail_argument("--shape names '" + name + "', which is not a model input");
        // Specializing: the bound shape becomes the input's declared shape, checked at run time.
        ir::ValueType& t = g.values[size_t(v)].type;
        t.rank_known = true;
        t.dims = shape;
        t.dim_params.assign(shape.size(), "");
      }
      for (const auto& [name, value] : options.constant_inputs) {
        passes::bind_constant_input(g, name, value);
        impl->frozen[name] = value;
      }
      passes::PassContext pc;
      pc.opset = impl->model.opset();
      pc.bound_shapes = options.shapes;
      pc.conv_precision = options.conv_precision;
      pc.keep_float = options.precision_keep;
      pc.only_nodes = options.precision_only;
      pc.prepack = options.prepack_weights;
      for (const auto& p : passes::optimize_graph(g, pc).passes) impl->passes.push_back({p.pass, p.nodes_before, p.nodes_after, p.rewrites});
      runtime::check_supported(g);
    }
    impl->executor = std::make_unique<runtime::Executor>(impl->model.opset(), runtime::ExecOptions{options.profile, options.threads, impl->options.optimize || stored_plan != nullptr, passes::plan_memory_default});
    if (stored_plan) impl->executor->adopt_memory_plan(g, std::move(stored_plan));
    for (int v : g.inputs) impl->inputs.push_back(info_of(g.values[size_t(v)], g.values[size_t(v)].type));
    for (int v : g.outputs) impl->outputs.push_back(info_of(g.values[size_t(v)], g.values[size_t(v)].type));
    return std::unique_ptr<Session>(new Session(std::move(impl)));
  });
}

const std::vector<TensorInfo>& Session::inputs() const { return impl_->inputs; }
const std::vector<PassSummary>& Session::passes() const { return impl_->passes; }

Status Session::save(const std::string& path) const {
  auto r = guarded([&] {
    artifact::save(path, impl_->model, impl_->executor->memory_plan(*impl_->model.graph));
    return true;
  });
  return r.status();
}

MemorySummary Session::memory() const {
  MemorySummary m;
  if (const ir::MemoryPlan* p = impl_->executor->memory_plan(*impl_->model.graph)) {
    m.arena_bytes = p->arena_bytes;
    m.naive_bytes = p->naive_bytes;
    m.lower_bound = p->lower_bound;
    m.buffers = p->buffers.size();
    m.algorithm = p->algorithm;
  }
  return m;
}
const std::vector<TensorInfo>& Session::outputs() const { return impl_->outputs; }

Result<std::vector<Tensor>> Session::run(const std::map<std::string, Tensor>& inputs) {
  return guarded([&] {
    const ir::Graph& g = *impl_->model.graph;
    std::vector<Tensor> bound;
    for (int v : g.inputs) {
      auto it = inputs.find(g.values[size_t(v)].name);  // frozen inputs are no longer graph inputs
      if (it == inputs.end()) fail_argument("input '" + g.values[size_t(v)].name + "' is not given");
      bound.push_back(it->second);
    }
    for (const auto& [name, t] : inputs) {
      if (auto f = impl_->frozen.find(name); f != impl_->frozen.end()) {
        const Tensor& want = f->second;
        bool same = t.dtype() == want.dtype() && t.shape() == want.shape() && t.nbytes() == want.nbytes() &&
                    std::memcmp(t.raw(), want.raw(), want.nbytes()) == 0;
        if (!same) fail_argument("input '" + name + "' was fixed to another value when the model was compiled");
        continue;
      }
      int v = g.find_value(name);
      bool is_input = false;
      for (int i : g.inputs) is_input |= i == v;
      if (!is_input) fail_argument("the model has no input named '" + name + "'");
    }
    // A session run from inside a parallel region (the OCR pipeline reads
    // lines in parallel, one session per thread) runs its kernels inline on
    // that thread; otherwise on its own pool.
    PoolScope scope(in_parallel_region() ? nullptr : impl_->pool.get());
    LimitsScope limits(impl_->options.limits);
    return impl_->executor->run_graph(g, bound, nullptr);
  });
}

void Session::set_profiling(bool on) { impl_->executor->set_profile(on); }
int Session::threads() const { return std::max(1, impl_->options.threads); }
bool Session::learning_threads() const { return impl_->executor->learning_threads(); }

Result<int> Session::warm_up(const std::map<std::string, Tensor>& inputs, int runs) {
  int done = 0;
  for (; done < runs || (learning_threads() && done < runs + 64); ++done) {
    auto r = run(inputs);
    if (!r.ok()) return r.status();
    take_profile();
  }
  return done;
}

std::vector<ProfileEntry> Session::take_profile() {
  std::vector<ProfileEntry> out;
  for (const auto& r : impl_->executor->profile()) {
    ProfileEntry e;
    e.op_type = r.op_type, e.node_name = r.node_name, e.seconds = r.seconds, e.output_shape = r.output_shape;
    e.depth = r.depth;
    e.live_bytes = r.live_bytes;
    e.kernel = r.path;
    if (r.node) {
      const profile::OpCost c = profile::count_onnx_node(*r.node, r.inputs, r.outputs, r.path);
      e.precision = c.precision;
      e.macs = c.macs;
      e.elementwise_ops = c.elementwise;
      for (const profile::Access& a : c.accesses)
        e.accesses.push_back({uint64_t(a.id), a.bytes, a.kind == profile::AccessKind::weight, a.write});
    }
    out.push_back(std::move(e));
  }
  impl_->executor->clear_profile();
  return out;
}

ModelSummary Session::summary() const {
  ModelSummary s;
  const ir::Model& m = impl_->model;
  s.ir_version = m.ir_version;
  s.opsets = m.opsets;
  s.producer = m.producer;
  s.op_histogram = ir::op_histogram(*m.graph);
  s.parameters = ir::parameter_count(*m.graph);
  for (auto& [op, n] : s.op_histogram) s.nodes += size_t(n);
  return s;
}

std::string Session::graph_text(const std::map<std::string, Shape>& bound) const {
  runtime::StaticInfo info = runtime::infer_static(*impl_->model.graph, impl_->model.opset(), bound);
  return ir::print_graph(*impl_->model.graph, &info.types);
}

std::vector<TensorInfo> Session::infer_outputs(const std::map<std::string, Shape>& bound) const {
  const ir::Graph& g = *impl_->model.graph;
  runtime::StaticInfo info = runtime::infer_static(g, impl_->model.opset(), bound);
  std::vector<TensorInfo> out;
  for (int v : g.outputs) out.push_back(info_of(g.values[size_t(v)], info.types[size_t(v)]));
  return out;
}

std::string version() { return "0.1.0"; }

std::string cpu_summary() {
  const CpuFeatures& f = cpu_features();
  return (f.brand.empty() ? std::string("unknown CPU") : f.brand) + " | " + std::to_string(cpu_count()) +
         " logical CPUs | cores: " + cpu_topology().describe() + " (default threads " + std::to_string(default_threads()) +
         ") | features: " + cpu_features_string() + " | kernels: " + kernels::kernel_summary();
}

namespace {
// The cpus of `want` this process may run on (all of `want` where that is unknown).
std::vector<int> usable(std::vector<int> want) {
  const std::vector<int> allowed = allowed_cpus();
  if (allowed.empty()) return want;
  std::erase_if(want, [&](int c) { return !std::binary_search(allowed.begin(), allowed.end(), c); });
  return want;
}
}  // namespace

// The placement's cpus when one is set, else the performance cores; either
// limited to the cpus taskset / a cgroup cpuset leaves this process.
int default_threads() {
  const std::vector<int> placed = cpu_placement();
  const std::vector<int> cpus = usable(placed.empty() ? cpu_topology().performance_cpus() : placed);
  return std::max<int>(1, int(cpus.size()));
}

std::vector<int> running_cpus() { return allowed_cpus(); }

void place_threads(const std::string& hex_mask, bool strict) {
  std::vector<int> cpus;
  try {
    cpus = hex_mask.empty() ? cpu_topology().performance_cpus() : parse_cpu_mask(hex_mask);
  } catch (const std::invalid_argument& e) {
    throw Error(StatusCode::invalid_argument, e.what());
  }
  cpus = usable(cpus);
  if (cpus.empty()) throw Error(StatusCode::invalid_argument, "--cpu-mask " + hex_mask + " selects no cpu this process may run on");
  set_cpu_placement(cpus, strict);
}

}  // namespace pareto
