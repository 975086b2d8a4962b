#include "runtime/shape_infer.h"

#include "runtime/executor.h"

namespace pareto::runtime {

namespace {

constexpr int64_t kFoldElementLimit = 1 << 16;

}  // namespace

StaticInfo infer_static(const ir::Graph& g, int64_t opset, const std::map<std::string, Shape>& bound_inputs) {
  StaticInfo info;
  info.types.resize(g.values.size());
  info.values.resize(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v) {
    info.types[v] = g.values[v].type;
    if (g.values[v].constant.defined()) info.values[v] = g.values[v].constant;
  }
  for (int v : g.inputs) {
    auto it = bound_inputs.find(g.values[size_t(v)].name);
    if (it == bound_inputs.end()) continue;
    info.types[size_t(v)].rank_known = true;
    info.types[size_t(v)].dims = it->second;
  }
  Executor folder(opset, {});
  for (int ni : g.topological_order()) {
    const ir::Node& n = g.nodes[size_t(ni)];
    const OpDef* def = op_registry().find(n.domain, n.op_type);
    if (!def) continue;
    bool all_const = ir::subgraphs(n).empty();
    int64_t elements = 0;
    for (int v : n.inputs) {
      if (v < 0) continue;
      if (!info.values[size_t(v)].defined()) all_const = false;
      else elements += info.values[size_t(v)].numel();
    }
    if (all_const && elements <= kFoldElementLimit && n.op_type != "RandomNormal") {
      OpContext ctx{n, opset, {}, {}, &folder, nullptr, nullptr, {}};
      for (int v : n.inputs) ctx.inputs.push_back(v < 0 ? nullptr : &info.values[size_t(v)]);
      ctx.outputs.resize(n.outputs.size());
      try {
        def->run(ctx);
        for (size_t o = 0; o < n.outputs.size(); ++o) {
          int v = n.outputs[o];
          if (v < 0 || !ctx.outputs[o].defined()) continue;
          info.values[size_t(v)] = ctx.outputs[o];
          info.types[size_t(v)] = ir::ValueType{ctx.outputs[o].dtype(), true, ctx.outputs[o].shape(), {}};
        }
        continue;
      } catch (const Error&) {
        // Left to fail at run time with the real inputs.
      }
    }
    if (!def->infer) continue;
    InferContext ic{n, opset, {}, {}, {}, {}};
    for (int v : n.inputs) {
      ic.in_types.push_back(v < 0 ? nullptr : &info.types[size_t(v)]);
      ic.in_values.push_back(v < 0 || !info.values[size_t(v)].defined() ? nullptr : &info.values[size_t(v)]);
    }
    ic.out_types.resize(n.outputs.size());
    ic.out_values.resize(n.outputs.size());
    try {
      def->infer(ic);
    } catch (const Error&) {
      continue;
    }
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      int v = n.outputs[o];
      if (v < 0) continue;
      ir::ValueType& t = info.types[size_t(v)];
      const ir::ValueType& inferred = ic.out_types[o];
      if (inferred.dtype != DType::undefined) t.dtype = inferred.dtype;
      if (inferred.rank_known) {
        // Keep declared dims where inference could not resolve one.
        Shape dims = inferred.dims;
        if (t.rank_known && t.dims.size() == dims.size())
          for (size_t d = 0; d < dims.size(); ++d)
            if (dims[d] < 0) dims[d] = t.dims[d];
        t.rank_known = true;
        t.dims = dims;
        if (t.dim_params.size() != dims.size()) t.dim_params.assign(dims.size(), "");
      }
      if (ic.out_values[o].defined()) info.values[size_t(v)] = ic.out_values[o];
    }
  }
  return info;
}

}  // namespace pareto::runtime
