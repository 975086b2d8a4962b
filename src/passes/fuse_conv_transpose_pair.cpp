// Two 2x2 stride-2 transposed convs in a row become one
// FusedConvTransposePair (kernels::f32_conv_transpose2x2_pair): PP-OCR
// det's head upsamples 24 channels 2x (then Relu) and the result 2x again
// to one channel (then Sigmoid); fused, the 24-channel map at half the
// output's size (24 x 320 x 320 floats for a 640 x 640 image) is never
// written out and read back. Same bits as the two convs apart.
#include <cstdlib>
#include <string>

#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

bool ints_are(const ir::Node& n, const char* name, int64_t v) {
  if (!n.has_attr(name)) return true;
  for (int64_t x : n.attr_ints(name))
    if (x != v) return false;
  return true;
}

// A float 2x2 stride-2 upsampling: ConvTranspose or FusedConvTranspose
// (activation only) with constant [C, C', 2, 2] weights, no pads,
// dilation, output padding or shape, one group, a 4-D input of C channels
// (any batch and size: the pair computes 4x any input, and checks each
// call's shapes).
bool upsamples_2x(const GraphEdit& e, const ir::Node& n, const runtime::StaticInfo& info) {
  const bool plain = n.op_type == "ConvTranspose" && n.domain.empty();
  const bool fused = n.op_type == "FusedConvTranspose" && n.domain == "pareto";
  if (!(plain || fused) || n.inputs.size() < 2 || n.outputs.size() != 1) return false;
  if (n.has_attr("output_shape") || n.has_attr("post_scale") || n.has_attr("post_shift") || n.has_attr("post_floor")) return false;
  if (n.attr_s("auto_pad", "NOTSET") != "NOTSET" || n.attr_i("group", 1) != 1) return false;
  if (!ints_are(n, "strides", 2) || n.attr_ints("strides", {}).size() != 2 || !ints_are(n, "pads", 0) || !ints_are(n, "dilations", 1) ||
      !ints_are(n, "output_padding", 0) || !ints_are(n, "kernel_shape", 2))
    return false;
  const Tensor* w = e.constant(n.inputs[1]);
  if (!w || w->dtype() != DType::f32 || w->rank() != 4 || w->dim(2) != 2 || w->dim(3) != 2) return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    const Tensor* b = e.constant(n.inputs[2]);
    if (!b || b->dtype() != DType::f32 || b->numel() != w->dim(1)) return false;
  }
  const ir::ValueType& x = info.types[size_t(n.inputs[0])];
  return x.rank_known && x.dtype == DType::f32 && x.dims.size() == 4 && x.dims[1] == w->dim(0);
}

int bias_of(const ir::Node& n) { return n.inputs.size() > 2 ? n.inputs[2] : -1; }

// n's activation attributes under `prefix` on `to`.
void copy_activation(const ir::Node& n, ir::Node& to, const std::string& prefix) {
  if (!n.has_attr("activation")) return;
  to.set_attr(ir::attr_string(prefix + "activation", n.attr_s("activation", "")));
  if (n.has_attr("alpha")) to.set_attr(ir::attr_float(prefix + "alpha", n.attr_f("alpha", 0.f)));
  if (n.has_attr("beta")) to.set_attr(ir::attr_float(prefix + "beta", n.attr_f("beta", 0.f)));
}

}  // namespace

// PARETO_FUSE_TRANSPOSE_PAIR=0 turns the pass off (to measure what it saves).
PassStats fuse_conv_transpose_pair(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_conv_transpose_pair", g.nodes.size(), g.nodes.size(), {}};
  const char* env = std::getenv("PARETO_FUSE_TRANSPOSE_PAIR");
  if (env && std::string(env) == "0") return st;
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (e.dead(int(n)) || !upsamples_2x(e, g.nodes[n], info)) continue;
    const int mid = g.nodes[n].outputs[0];
    const int next = e.only_consumer(mid);
    if (next < 0 || e.dead(next) || e.is_output(mid) || !upsamples_2x(e, g.nodes[size_t(next)], info)) continue;
    const ir::Node a = g.nodes[n], b = g.nodes[size_t(next)];
    if (b.inputs[0] != mid) continue;  // a's output as b's weights or bias: not the chain
    ir::Node& pair = g.nodes[n];  // where a is: b's weights are constants, its readers come after b
    pair.op_type = "FusedConvTransposePair";
    pair.domain = "pareto";
    pair.inputs = {a.inputs[0], a.inputs[1], bias_of(a), b.inputs[1], bias_of(b)};
    pair.outputs = b.outputs;
    pair.attrs.clear();
    copy_activation(a, pair, "first_");
    copy_activation(b, pair, "");
    e.kill(next);
    st.rewrites["ConvTranspose + ConvTranspose"]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
