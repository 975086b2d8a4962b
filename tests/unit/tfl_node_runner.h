// Runs one TFLite-frontend node (domain pareto) in a one-node graph: what
// the TFLite adapter tests feed hostile or random nodes through.
#pragma once
#include <gtest/gtest.h>

#include "ir/graph.h"
#include "pareto/error.h"
#include "runtime/executor.h"

namespace pareto {

struct NodeSpec {
  std::string op;
  std::vector<Tensor> inputs;  // the first is the graph input, the rest constants
  Shape out_shape;
  DType out_dtype = DType::u8;
  std::vector<ir::Attribute> attrs;
};

// Runs one Tfl node; returns the error text ("" when it ran) and, when asked, its output.
inline std::string run_node(const NodeSpec& spec, std::string domain = "pareto", Tensor* output = nullptr, int threads = 1) {
  try {
    ir::Graph g;
    ir::Node n;
    n.name = "node", n.op_type = spec.op, n.domain = std::move(domain);
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
      if (i > 0 && !spec.inputs[i].defined()) {  // an absent optional input
        n.inputs.push_back(-1);
        continue;
      }
      const int v = i == 0 ? g.add_value("x") : g.add_constant("c", spec.inputs[i]);
      if (i == 0) {
        g.values[size_t(v)].type = {spec.inputs[0].dtype(), true, spec.inputs[0].shape(), std::vector<std::string>(spec.inputs[0].shape().size())};
        g.inputs.push_back(v);
      }
      n.inputs.push_back(v);
    }
    const int out = g.add_value("y");
    n.outputs.push_back(out);
    for (const ir::Attribute& a : spec.attrs) n.set_attr(a);  // a later one replaces an earlier one of the same name
    n.set_attr(ir::attr_ints("out_shape", spec.out_shape));
    n.set_attr(ir::attr_int("out_dtype", int64_t(spec.out_dtype)));
    g.values[size_t(out)].producer = 0;
    g.nodes.push_back(n);
    g.outputs.push_back(out);
    runtime::check_supported(g);
    runtime::ExecOptions options;
    options.threads = threads;
    runtime::Executor ex(13, options);
    std::vector<Tensor> outs = ex.run_graph(g, {spec.inputs[0]}, nullptr);
    if (output) *output = outs.at(0);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

inline std::vector<ir::Attribute> quant(const std::string& prefix, std::vector<float> scale, std::vector<int64_t> zero) {
  return {ir::attr_floats(prefix + "_scale", std::move(scale)), ir::attr_ints(prefix + "_zero", std::move(zero))};
}

}  // namespace pareto
