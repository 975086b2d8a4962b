// Control flow: If and Loop run their body graphs through the executor with
// the current scope as parent, so bodies can read enclosing values by name.
#include <cstring>

#include "pareto/limits.hpp"
#include "runtime/executor.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

namespace {

constexpr int64_t kMaxLoopIterations = int64_t(1) << 24;

const ir::Graph& graph_attr(const OpContext& ctx, const char* name) {
  const ir::Attribute* a = ctx.node.attr(name);
  if (!a || a->kind != ir::AttrKind::g || !a->g) ctx.invalid(std::string("missing graph attribute '") + name + "'");
  return *a->g;
}

bool truth(const OpContext& ctx, const Tensor& t) {
  if (t.numel() != 1) ctx.invalid("condition must hold exactly one element, has " + std::to_string(t.numel()));
  return t.as_double(0) != 0;
}

void run_if(OpContext& ctx) {
  bool cond = truth(ctx, ctx.in(0));
  const ir::Graph& body = graph_attr(ctx, cond ? "then_branch" : "else_branch");
  if (body.outputs.size() != ctx.outputs.size())
    ctx.invalid("branch has " + std::to_string(body.outputs.size()) + " outputs, node has " + std::to_string(ctx.outputs.size()));
  std::vector<Tensor> outs = ctx.executor->run_graph(body, {}, ctx.scope);
  for (size_t i = 0; i < outs.size(); ++i) ctx.set_out(i, outs[i]);
}

void run_loop(OpContext& ctx) {
  const ir::Graph& body = graph_attr(ctx, "body");
  int64_t max_trips = ctx.has(0) ? ctx.in(0).as_int(0) : kMaxLoopIterations;
  bool cond = ctx.has(1) ? truth(ctx, ctx.in(1)) : true;
  size_t n_carried = ctx.num_inputs() >= 2 ? ctx.num_inputs() - 2 : 0;
  if (body.inputs.size() != n_carried + 2) ctx.invalid("body takes " + std::to_string(body.inputs.size()) + " inputs, expected " + std::to_string(n_carried + 2));
  if (body.outputs.size() < n_carried + 1) ctx.invalid("body has too few outputs");
  size_t n_scan = body.outputs.size() - 1 - n_carried;
  if (ctx.outputs.size() != n_carried + n_scan) ctx.invalid("node output count does not match the body");
  std::vector<Tensor> carried;
  for (size_t i = 0; i < n_carried; ++i) carried.push_back(ctx.in(i + 2));
  std::vector<std::vector<Tensor>> scans(n_scan);
  uint64_t scan_bytes = 0;  // what the scan outputs hold so far: limited as one tensor each iteration, not at the end
  int64_t iter = 0;
  for (; iter < max_trips && cond; ++iter) {
    if (iter >= kMaxLoopIterations) ctx.invalid("loop exceeded " + std::to_string(kMaxLoopIterations) + " iterations");
    std::vector<Tensor> in;
    in.push_back(Tensor::scalar<int64_t>(iter));
    in.push_back(Tensor::scalar<bool>(cond));
    for (Tensor& t : carried) in.push_back(t);
    std::vector<Tensor> out = ctx.executor->run_graph(body, in, ctx.scope);
    cond = truth(ctx, out[0]);
    for (size_t i = 0; i < n_carried; ++i) carried[i] = out[i + 1];
    for (size_t i = 0; i < n_scan; ++i) {
      scan_bytes += out[1 + n_carried + i].nbytes();
      check_limit(ctx.node.label() + ": the loop's scan outputs after " + std::to_string(iter + 1) + " iterations (bytes)", scan_bytes,
                  "tensor-bytes");
      scans[i].push_back(out[1 + n_carried + i]);
    }
  }
  for (size_t i = 0; i < n_carried; ++i) ctx.set_out(i, carried[i]);
  for (size_t i = 0; i < n_scan; ++i) {
    if (scans[i].empty()) {
      ctx.out(n_carried + i, DType::f32, {0});
      continue;
    }
    const Tensor& first = scans[i][0];
    Shape s = first.shape();
    s.insert(s.begin(), int64_t(scans[i].size()));
    Tensor& y = ctx.out(n_carried + i, first.dtype(), s);
    size_t bytes = first.nbytes();
    for (size_t k = 0; k < scans[i].size(); ++k) {
      if (scans[i][k].shape() != first.shape() || scans[i][k].dtype() != first.dtype())
        ctx.invalid("scan output changes shape between iterations");
      std::memcpy(static_cast<uint8_t*>(y.raw()) + k * bytes, scans[i][k].raw(), bytes);
    }
  }
}

}  // namespace

void register_control_ops(OpRegistry& r) {
  r.add("If", run_if);
  r.add("Loop", run_loop);
}

}  // namespace pareto::runtime
