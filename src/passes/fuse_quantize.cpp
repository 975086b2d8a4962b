// A quantized conv (fold_qdq's Conv with x_scale: an int8 conv, or a
// depthwise conv reading its input on the uint8 grid) rounds its float
// input to uint8 itself: 4 bytes read per element after the producer wrote
// the 4. Where the producer is a conv that can round its own output (a
// depthwise conv, plane by plane while the plane is in cache, or an int8
// conv, row by row after its float epilogue) and every reader is a
// quantized conv with the same x_scale and x_zero_point, the producer
// writes uint8 (attributes out_scale, out_zero_point) and the readers take
// the bytes as they are: MobileNet-style blocks (pointwise int8, depthwise,
// pointwise int8) then pass uint8 from conv to conv. The same rounding of
// the same floats: the readers see the same bytes (the tests compare bit
// for bit), with no float tensor between the convs. FusedAdd and
// FusedConcat (the FPN neck's sums and the DB head's input) and
// FusedSqueezeExcite (the gated product before a projection conv) round each
// output plane the same way.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

bool is_conv(const ir::Node& n) { return (n.op_type == "Conv" && n.domain.empty()) || (n.op_type == "FusedConv" && n.domain == "pareto"); }

bool depthwise(const ir::Node& n, const ir::ValueType& x, const ir::ValueType& w) {
  const int64_t c_in = x.dims[1];
  return c_in > 1 && n.attr_i("group", 1) == c_in && w.dims[1] == 1 && w.dims[0] % c_in == 0;
}

// A conv on a 4-D tensor with known weights whose kernel path can round its
// output: depthwise (float, or reading uint8: kernels::f32_conv_is_depthwise)
// or int8 with one group (the int8 kernel's epilogue; the runtime rounds
// afterwards where it runs such a conv as float Winograd).
bool can_round_output(const ir::Node& n, const runtime::StaticInfo& info) {
  // (A residual that may broadcast is added after the conv, in float: no rounding fused there.)
  if (!is_conv(n) || n.has_attr("compute") || n.has_attr("out_scale") || n.has_attr("residual_broadcast")) return false;
  if (n.inputs.size() < 2 || n.outputs.size() != 1 || n.outputs[0] < 0 || n.inputs[0] < 0 || n.inputs[1] < 0) return false;
  const ir::ValueType& x = info.types[size_t(n.inputs[0])];
  const ir::ValueType& w = info.types[size_t(n.inputs[1])];
  const bool quantized = n.has_attr("x_scale");
  if ((x.dtype != DType::f32 && !(quantized && x.dtype == DType::u8)) || !x.rank_known || x.dims.size() != 4 || !w.fully_known() ||
      w.dims.size() != 4)
    return false;
  return depthwise(n, x, w) || (quantized && n.attr_i("group", 1) == 1);
}

// FusedAdd / FusedConcat (fuse_upsample) and FusedSqueezeExcite on float
// tensors: they make each output row in a buffer and can round it
// (runtime/ops/fused.cpp).
bool fused_elementwise(const ir::Node& n, const runtime::StaticInfo& info) {
  if (n.domain != "pareto" || n.has_attr("out_scale") || n.has_attr("broadcast_fallback")) return false;
  if (n.op_type != "FusedAdd" && n.op_type != "FusedConcat" && n.op_type != "FusedSqueezeExcite") return false;
  if (n.outputs.size() != 1 || n.outputs[0] < 0) return false;
  for (int v : n.inputs)
    if (v >= 0 && info.types[size_t(v)].dtype != DType::f32) return false;
  return true;
}

}  // namespace

// PARETO_FUSE_QUANTIZE=0 turns the pass off (to measure what it saves).
PassStats fuse_quantize(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_quantize", g.nodes.size(), g.nodes.size(), {}};
  const char* env = std::getenv("PARETO_FUSE_QUANTIZE");
  if (env && !std::strcmp(env, "0")) return st;
  if (std::none_of(g.nodes.begin(), g.nodes.end(), [](const ir::Node& n) { return n.has_attr("x_scale"); })) return st;  // no quantized conv
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  for (ir::Node& n : g.nodes) {
    float scale = 0;
    int64_t zero = 0;
    const bool fused = fused_elementwise(n, info);
    if ((!fused && !can_round_output(n, info)) || !rounding_readers_only(g, e, n.outputs[0], &scale, &zero)) continue;
    n.set_attr(ir::attr_float("out_scale", scale));
    n.set_attr(ir::attr_int("out_zero_point", zero));
    const int v = n.outputs[0];
    ir::ValueType& t = g.values[size_t(v)].type;
    t.dtype = DType::u8;
    // A QuantizeLinear reader's readers take these bytes.
    if (const int q = hand_bytes_to_quantize_readers(g, e, v)) st.rewrites["QuantizeLinear after a conv -> the conv's uint8 output"] += q;
    st.rewrites[fused                                                     ? n.op_type + " -> uint8 for quantized convs"
                : n.has_attr("x_scale") && n.attr_i("group", 1) == 1 ? "int8 conv -> uint8 for quantized convs"
                                                                     : "depthwise conv -> uint8 for quantized convs"]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
