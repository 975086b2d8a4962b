#include "runtime/executor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/file.h"
#include "core/thread_pool.h"
#include "pareto/limits.hpp"
#include "runtime/shape_infer.h"

namespace pareto::runtime {

const Tensor* Scope::lookup(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent) {
    int id = s->graph->find_value(name);
    if (id < 0) continue;
    const ir::Value& v = s->graph->values[size_t(id)];
    if (v.is_outer) continue;
    const Tensor& t = s->value(size_t(id));
    if (t.defined()) return &t;
  }
  return nullptr;
}

void check_supported(const ir::Graph& g) {
  std::map<std::string, std::vector<std::string>> missing;
  ir::for_each_node(g, [&](const ir::Node& n, const ir::Graph&) {
    // Every operator has at least one output; kernels and shape inference write output 0.
    if (n.outputs.empty()) fail_model(n.label() + ": the node has no outputs");
    if (!op_registry().find(n.domain, n.op_type))
      missing[n.domain.empty() ? n.op_type : n.domain + "::" + n.op_type].push_back(n.name);
  });
  for (const std::vector<int>* list : {&g.inputs, &g.outputs})
    for (int v : *list)
      if (g.values[size_t(v)].type.non_tensor)
        fail_unsupported("graph input/output '" + g.values[size_t(v)].name + "' is a sequence, map or optional; only tensors are supported");
  if (missing.empty()) return;
  std::string msg = "unsupported operators:";
  for (auto& [type, nodes] : missing) {
    msg += " " + type + " (" + std::to_string(nodes.size()) + " node" + (nodes.size() > 1 ? "s" : "") + ": ";
    for (size_t i = 0; i < nodes.size() && i < 5; ++i) msg += (i ? ", '" : "'") + nodes[i] + "'";
    if (nodes.size() > 5) msg += ", ...";
    msg += ");";
  }
  msg.pop_back();
  fail_unsupported(msg);
}

Executor::Executor(int64_t opset, ExecOptions options) : opset_(opset), options_(options) {
  if (options_.arena && !options_.planner) fail_argument("executor: the arena needs a memory planner (ExecOptions::planner)");
  if (const char* env = std::getenv("PARETO_ADAPTIVE_THREADS"); env && std::strcmp(env, "0") == 0) options_.adaptive_threads = false;
}

bool Executor::learning_threads() const {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  for (const auto& [graph, plan] : plans_)
    if (plan && plan->threads && plan->threads->learning()) return true;  // (a plan whose making threw is null)
  return false;
}

// The input shapes a top-level run's thread choices are learned for.
static std::vector<int64_t> shape_key(const std::vector<Tensor>& inputs) {
  std::vector<int64_t> key;
  for (const Tensor& t : inputs) {
    key.insert(key.end(), t.shape().begin(), t.shape().end());
    key.push_back(-1);
  }
  return key;
}

const Executor::Plan& Executor::plan_for(const ir::Graph& g) {
  std::lock_guard<std::mutex> lock(plans_mutex_);
  auto& slot = plans_[&g];
  if (slot) return *slot;
  auto plan = std::make_unique<Plan>();
  plan->order = g.topological_order();
  std::vector<int> last_use(g.values.size(), -1);
  for (size_t pos = 0; pos < plan->order.size(); ++pos) {
    const ir::Node& n = g.nodes[size_t(plan->order[pos])];
    const OpDef* def = op_registry().find(n.domain, n.op_type);
    if (!def) fail_unsupported("unsupported operator " + n.label());
    plan->defs.push_back(def);
    for (int v : n.inputs)
      if (v >= 0) last_use[size_t(v)] = int(pos);
    for (int v : g.implicit_inputs(n)) last_use[size_t(v)] = int(pos);
  }
  std::vector<bool> keep(g.values.size(), false);
  for (int v : g.outputs) keep[size_t(v)] = true;
  plan->free_after.resize(plan->order.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    if (g.values[v].is_outer) plan->outer_values.push_back(int(v));
    if (keep[v] || g.values[v].constant.defined() || last_use[v] < 0) continue;
    plan->free_after[size_t(last_use[v])].push_back(int(v));
  }
  plan->threads = std::make_unique<ThreadChoice>(plan->order.size());
  slot = std::move(plan);
  return *slot;
}

static void check_input(const ir::Value& v, const Tensor& t) {
  const ir::ValueType& type = v.type;
  if (type.dtype != DType::undefined && t.dtype() != type.dtype)
    fail_argument("input '" + v.name + "': expected " + dtype_name(type.dtype) + ", got " + dtype_name(t.dtype()));
  if (!type.rank_known) return;
  bool ok = int(type.dims.size()) == t.rank();
  for (size_t i = 0; ok && i < type.dims.size(); ++i)
    if (type.dims[i] >= 0 && type.dims[i] != t.dim(int(i))) ok = false;
  if (!ok)
    fail_argument("input '" + v.name + "': expected shape " + shape_to_string(type.dims) + ", got " +
                  shape_to_string(t.shape()));
}

// Allocates the arena and fixes each node output's slot once (see Plan::slots).
void Executor::finish_memory(const ir::Graph& g, Plan& plan) {
  check_limit("the activation arena of the memory plan (bytes)", plan.memory->arena_bytes, "tensor-bytes");
  plan.arena = allocate_large(plan.memory->arena_bytes);
  uint8_t* base = static_cast<uint8_t*>(plan.arena.get());
  plan.slots.assign(plan.order.size(), {});
  for (size_t pos = 0; pos < plan.order.size(); ++pos) {
    const ir::Node& n = g.nodes[size_t(plan.order[pos])];
    auto& slots = plan.slots[pos];
    slots.assign(n.outputs.size(), {nullptr, 0});
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      const int v = n.outputs[o];
      if (v < 0 || plan.memory->buffer_of[size_t(v)] < 0) continue;
      const int buf = plan.memory->buffer_of[size_t(v)];
      bool shares = false;
      for (int in : n.inputs) shares |= in >= 0 && plan.memory->buffer_of[size_t(in)] == buf;
      if (shares && !ir::writes_in_place(n)) continue;
      const ir::Buffer& b = plan.memory->buffers[size_t(buf)];
      slots[o] = {base + b.offset, b.bytes};
    }
  }
}

const ir::MemoryPlan* Executor::memory_plan(const ir::Graph& g) {
  if (!options_.arena) return nullptr;
  Plan& plan = const_cast<Plan&>(plan_for(g));
  std::lock_guard<std::mutex> lock(plans_mutex_);
  if (!plan.memory) {
    const StaticInfo info = infer_static(g, opset_, {});
    plan.memory = std::make_unique<ir::MemoryPlan>(options_.planner(g, plan.order, info.types));
    finish_memory(g, plan);
  }
  return plan.memory.get();
}

void Executor::adopt_memory_plan(const ir::Graph& g, std::unique_ptr<ir::MemoryPlan> memory) {
  Plan& plan = const_cast<Plan&>(plan_for(g));
  std::lock_guard<std::mutex> lock(plans_mutex_);
  const StaticInfo info = infer_static(g, opset_, {});
  std::string why;
  if (!ir::plan_matches(*memory, g, plan.order, info.types, &why)) fail_model("compiled model's memory plan does not fit its graph: " + why);
  plan.memory = std::move(memory);
  finish_memory(g, plan);
}

std::shared_ptr<const void> Executor::node_cache(const ir::Node& node, int stamp, const CacheMaker& make) {
  std::lock_guard<std::mutex> lock(cache_mutex_);
  std::shared_ptr<const void>& entry = node_cache_[{&node, stamp}];
  if (!entry) entry = make();
  return entry;
}

std::vector<Tensor> Executor::run_graph(const ir::Graph& g, const std::vector<Tensor>& inputs, const Scope* parent) {
  int depth = 0;
  for (const Scope* s = parent; s; s = s->parent) ++depth;
  return run_graph(g, inputs, parent, depth);
}

namespace {

TensorUse use_of(const Tensor* t, bool constant) {
  TensorUse u;
  if (!t || !t->defined()) return u;
  u.present = true;
  u.id = reinterpret_cast<uintptr_t>(t->raw());
  u.bytes = t->nbytes();
  u.shape = t->shape();
  u.dtype = t->dtype();
  u.constant = constant;
  return u;
}

}  // namespace

void Executor::record_profile(const ir::Node& node, const OpContext& ctx, const Scope& scope, double seconds, size_t first_child, int depth) {
  ProfileRecord rec;
  rec.op_type = node.op_type;
  rec.node_name = node.name;
  rec.node = &node;
  if (ctx.path) rec.path = ctx.path;
  rec.depth = depth;
  // Records of this node's bodies (and theirs, at any depth) came in while
  // it ran; each holds its own exclusive time.
  for (size_t i = first_child; i < profile_.size(); ++i)
    if (profile_[i].depth > depth) seconds -= profile_[i].seconds;
  rec.seconds = std::max(0.0, seconds);
  if (!ctx.outputs.empty()) rec.output_shape = ctx.outputs[0].shape();
  const ir::Graph& g = *scope.graph;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const int v = node.inputs[i];
    rec.inputs.push_back(use_of(ctx.inputs[i], v >= 0 && g.values[size_t(v)].constant.defined()));
  }
  for (const Tensor& t : ctx.outputs) rec.outputs.push_back(use_of(&t, false));
  // Live activations: every computed non-constant value of this invocation
  // (views of one buffer counted once).
  std::vector<std::pair<const void*, size_t>> live;
  for (size_t v = 0; v < scope.slots.size(); ++v) {
    const Tensor& t = scope.slots[v];
    if (t.defined() && !g.values[v].constant.defined()) live.push_back({t.raw(), t.nbytes()});
  }
  for (const Tensor& t : ctx.outputs)
    if (t.defined()) live.push_back({t.raw(), t.nbytes()});
  // One buffer once (the largest view of it).
  std::sort(live.begin(), live.end(), [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
  for (size_t i = 0; i < live.size(); ++i)
    if (i == 0 || live[i].first != live[i - 1].first) rec.live_bytes += live[i].second;
  profile_.push_back(std::move(rec));
}

std::vector<Tensor> Executor::run_graph(const ir::Graph& g, const std::vector<Tensor>& inputs, const Scope* parent, int depth) {
  const Plan& plan = plan_for(g);
  const ir::MemoryPlan* memory = parent ? nullptr : memory_plan(g);
  Scope scope;
  scope.graph = &g;
  scope.parent = parent;
  scope.slots.resize(g.values.size());
  if (inputs.size() != g.inputs.size())
    fail_argument("graph '" + g.name + "' takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                  std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ir::Value& v = g.values[size_t(g.inputs[i])];
    if (!inputs[i].defined()) fail_argument("input '" + v.name + "' is not bound");
    if (!parent) check_input(v, inputs[i]);
    scope.slots[size_t(g.inputs[i])] = inputs[i];
  }
  for (int v : plan.outer_values) {
    const std::string& name = g.values[size_t(v)].name;
    const Tensor* t = parent ? parent->lookup(name) : nullptr;
    if (!t) fail_model("graph '" + g.name + "' reads '" + name + "', which no enclosing graph has computed");
    scope.slots[size_t(v)] = *t;
  }
  // Nested graphs and sessions run inside a parallel region have no
  // choice to make: everything there runs inline already.
  ThreadChoice::Run threads;
  if (!parent && options_.adaptive_threads && num_threads() > 1 && !in_parallel_region()) threads = plan.threads->begin(shape_key(inputs));
  // The nodes' input and output lists reuse one allocation each (two heap
  // calls per node were a visible share of PP-OCR cls's 50 small nodes).
  std::vector<const Tensor*> input_list;
  std::vector<Tensor> output_list;
  for (size_t pos = 0; pos < plan.order.size(); ++pos) {
    const ir::Node& node = g.nodes[size_t(plan.order[pos])];
    OpContext ctx{node, opset_, std::move(input_list), std::move(output_list), this, &scope, nullptr, {}};
    ctx.inputs.clear();
    ctx.outputs.clear();
    ctx.inputs.reserve(node.inputs.size());
    for (int v : node.inputs) {
      if (v < 0) {
        ctx.inputs.push_back(nullptr);
        continue;
      }
      const Tensor& t = scope.value(size_t(v));
      if (!t.defined()) fail_model(node.label() + ": input '" + g.values[size_t(v)].name + "' was not computed");
      ctx.inputs.push_back(&t);
    }
    ctx.outputs.resize(node.outputs.size());
    if (memory) {
      ctx.arena = plan.arena;
      ctx.planned = &plan.slots[pos];
    }
    double t0 = options_.profile || threads.timing() ? now_seconds() : 0;
    const size_t first_child = profile_.size();
    const double overhead_before = profile_overhead_;
    try {
      if (threads.run_inline(pos)) {
        InlineScope one_thread;
        plan.defs[pos]->run(ctx);
      } else {
        plan.defs[pos]->run(ctx);
      }
    } catch (const Error& e) {
      // Kernels' errors name the node; helpers (element reads, allocation
      // limits) cannot: the node is added here where it is missing.
      const std::string label = node.label();
      if (std::string(e.what()).find(label) != std::string::npos) throw;
      throw Error(e.code(), label + ": " + e.what());
    }
    if (threads.timing()) threads.seconds[pos] = now_seconds() - t0 - (profile_overhead_ - overhead_before);
    if (options_.profile) {
      // The recording of its body's nodes is not the node's time either.
      const double t1 = now_seconds();
      record_profile(node, ctx, scope, t1 - t0 - (profile_overhead_ - overhead_before), first_child, depth);
      profile_overhead_ += now_seconds() - t1;
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      int v = node.outputs[o];
      if (v < 0) continue;
      if (!ctx.outputs[o].defined())  // the model declares an output the operator does not have
        fail_model(node.label() + ": output " + std::to_string(o) + " is not one " + node.op_type + " produces");
      scope.slots[size_t(v)] = std::move(ctx.outputs[o]);
    }
    for (int v : plan.free_after[pos]) scope.slots[size_t(v)] = Tensor();
    input_list = std::move(ctx.inputs);
    output_list = std::move(ctx.outputs);
  }
  plan.threads->finish(threads);
  std::vector<Tensor> outs;
  for (int v : g.outputs) {
    const Tensor* t = scope.value(size_t(v)).defined() ? &scope.value(size_t(v)) : nullptr;
    if (!t) fail_model("graph '" + g.name + "': output '" + g.values[size_t(v)].name + "' was not computed");
    outs.push_back(*t);
  }
  return outs;
}

}  // namespace pareto::runtime
