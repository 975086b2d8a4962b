// Squeeze-excite blocks (MobileNetV3, PP-LCNet): y = x * gate with
//   gate = excite(W2 squeeze(W1 GlobalAveragePool(x) + b1) + b2)
// where both convs are 1x1 on one pixel. Unfused that is four nodes, three
// of them on a handful of values (PP-OCR cls: 8-200 channels), so each
// costs its dispatch (about a microsecond: attributes, output, parameters)
// more than its work, and the Mul a pass of its own over x. One
// FusedSqueezeExcite (domain "pareto", runtime/ops/fused.cpp) runs the same
// kernels in the same order (the pool's sums, the one-pixel conv's dot
// products and activation, the product), so its output is the unfused
// graph's bit for bit, and fuse_quantize can have it round that product to
// uint8 for the int8 convs reading it.
//
// Runs after fuse_upsample: a gated residual x + x * gate (PP-OCR det's
// neck) is its FusedAdd, which this pass leaves alone.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include "kernels/conv.h"
#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

struct Block {
  int x = -1, w1 = -1, b1 = -1, w2 = -1, b2 = -1;
  const ir::Node *pool = nullptr, *squeeze = nullptr, *excite = nullptr;
};

struct SeFuser {
  const ir::Graph& g;
  const GraphEdit& e;
  const runtime::StaticInfo& info;

  const ir::ValueType& type(int v) const { return info.types[size_t(v)]; }

  // The node producing v where v has no other reader and is no graph output.
  const ir::Node* sole_producer(int v) const {
    const int p = e.producer(v);
    if (p < 0 || e.dead(p) || e.uses(v) != 1 || e.is_output(v)) return nullptr;
    return &g.nodes[size_t(p)];
  }

  // A conv from `in` channels to `out`, 1x1, one group, no padding, on one
  // pixel, with constant float weights [out, in, 1, 1] and an optional
  // constant bias [out]; plain Conv or FusedConv with an activation only
  // (no residual, no other precision, no prepacked weights). An int8 one
  // (fold_qdq's x_scale) runs in float on its input rounded to the uint8
  // grid where the one-pixel path runs (runtime/ops/conv.cpp,
  // takes_int8_kernel), which the fused op repeats: it fuses only where
  // that holds on this machine (elsewhere the int8 kernel runs it); one
  // whose scale comes from each run (x_dynamic) does not fuse.
  bool one_pixel_conv(const ir::Node& n, int64_t in, int64_t out) const {
    const bool fused = n.op_type == "FusedConv" && n.domain == "pareto";
    if (!(fused || (n.op_type == "Conv" && n.domain.empty())) || n.outputs.size() != 1) return false;
    if (n.inputs.size() < 2 || n.inputs.size() > 3 || n.inputs[0] < 0 || n.inputs[1] < 0) return false;
    if (n.has_attr("x_dynamic") || n.has_attr("compute") || n.has_attr("out_scale") || n.has_attr("prepacked"))
      return false;
    if (n.has_attr("x_scale")) {
      kernels::ConvParams p;
      p.c_in = in;
      p.c_out = out;
      p.h = p.w = p.out_h = p.out_w = 1;
      if (!kernels::f32_conv_is_single_pixel(p)) return false;
    }
    if (n.attr_i("group", 1) != 1) return false;
    const std::string pad = n.attr_s("auto_pad", "NOTSET");
    if (pad != "NOTSET" && pad != "VALID") return false;
    for (int64_t p : n.attr_ints("pads")) if (p != 0) return false;
    const Tensor* w = e.constant(n.inputs[1]);
    if (!w || w->dtype() != DType::f32 || w->shape() != Shape{out, in, 1, 1}) return false;
    if (n.inputs.size() == 3 && n.inputs[2] >= 0) {
      const Tensor* b = e.constant(n.inputs[2]);
      if (!b || b->dtype() != DType::f32 || b->numel() != out || b->rank() != 1) return false;
    }
    // The batch may be unknown (a model compiled for any input size: the
    // OCR pipeline's): the channels and the one pixel are what matter.
    const ir::ValueType& t = type(n.outputs[0]);
    return t.dtype == DType::f32 && t.rank_known && t.dims.size() == 4 && t.dims[1] == out && t.dims[2] == 1 && t.dims[3] == 1;
  }

  // mul = Mul(x, gate) (either order) with gate the end of the chain above.
  bool plan(const ir::Node& mul, Block* b) const {
    if (mul.op_type != "Mul" || !mul.domain.empty() || mul.inputs.size() != 2 || mul.outputs.size() != 1) return false;
    for (int side = 0; side < 2; ++side) {
      const int x = mul.inputs[size_t(side)], gate = mul.inputs[size_t(1 - side)];
      if (x < 0 || gate < 0 || x == gate) continue;
      // x of any batch and size (known rank and channels): the gate, one
      // value per image and channel of x itself, broadcasts over it, so the
      // Mul's output is x's shape whatever the input (the runtime op checks
      // each call's shapes).
      const ir::ValueType& xt = type(x);
      if (xt.dtype != DType::f32 || !xt.rank_known || xt.dims.size() != 4 || xt.dims[1] < 1) continue;
      const int64_t c = xt.dims[1];
      const ir::Node* excite = sole_producer(gate);
      if (!excite || excite->inputs.size() < 2 || excite->inputs[1] < 0) continue;
      const Tensor* w2 = e.constant(excite->inputs[1]);  // [C, squeeze width, 1, 1]
      if (!w2 || w2->rank() != 4) continue;
      const int64_t cr = w2->dim(1);
      if (!one_pixel_conv(*excite, cr, c)) continue;
      const ir::Node* squeeze = sole_producer(excite->inputs[0]);
      if (!squeeze || !one_pixel_conv(*squeeze, c, cr)) continue;
      const ir::Node* pool = sole_producer(squeeze->inputs[0]);
      if (!pool || pool->op_type != "GlobalAveragePool" || !pool->domain.empty() || pool->inputs.size() != 1 || pool->inputs[0] != x) continue;
      b->x = x;
      b->w1 = squeeze->inputs[1];
      b->b1 = squeeze->inputs.size() == 3 ? squeeze->inputs[2] : -1;
      b->w2 = excite->inputs[1];
      b->b2 = excite->inputs.size() == 3 ? excite->inputs[2] : -1;
      b->pool = pool;
      b->squeeze = squeeze;
      b->excite = excite;
      return true;
    }
    return false;
  }
};

// A conv's attributes the fused op needs, under its prefix: the
// activation's name (absent: none) with alpha, beta, post_scale,
// post_shift, post_floor in one list (the runtime reads two attributes,
// not six), and the int8 input grid (x_scale, x_zero_point) where it has one.
void copy_conv_attrs(const ir::Node& conv, const std::string& prefix, ir::Node& to) {
  if (conv.op_type == "FusedConv" && conv.has_attr("activation")) {  // a plain Conv's stray one is not run
    to.set_attr(ir::attr_string(prefix + "activation", conv.attr_s("activation", "")));
    to.set_attr(ir::attr_floats(prefix + "args", {conv.attr_f("alpha", 0.f), conv.attr_f("beta", 0.f), conv.attr_f("post_scale", 1.f),
                                                  conv.attr_f("post_shift", 0.f),
                                                  conv.attr_f("post_floor", -std::numeric_limits<float>::infinity())}));
  }
  if (conv.has_attr("x_scale")) {
    to.set_attr(ir::attr_float(prefix + "x_scale", conv.attr_f("x_scale", 0.f)));
    to.set_attr(ir::attr_int(prefix + "x_zero_point", conv.attr_i("x_zero_point", 0)));
  }
}

}  // namespace

// PARETO_FUSE_SE=0 turns the pass off (to measure what it saves).
PassStats fuse_squeeze_excite(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_squeeze_excite", g.nodes.size(), g.nodes.size(), {}};
  const char* env = std::getenv("PARETO_FUSE_SE");
  if (env && std::string(env) == "0") return st;
  if (std::none_of(g.nodes.begin(), g.nodes.end(), [](const ir::Node& n) { return n.op_type == "GlobalAveragePool"; })) return st;
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  SeFuser f{g, e, info};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Block b;
    if (e.dead(int(i)) || !f.plan(g.nodes[i], &b)) continue;
    ir::Node fused;
    fused.name = g.nodes[i].name;
    fused.op_type = "FusedSqueezeExcite";
    fused.domain = "pareto";
    fused.inputs = {b.x, b.w1, b.b1, b.w2, b.b2};
    fused.outputs = g.nodes[i].outputs;
    copy_conv_attrs(*b.squeeze, "squeeze_", fused);
    copy_conv_attrs(*b.excite, "excite_", fused);
    for (const ir::Node* n : {b.pool, b.squeeze, b.excite}) e.kill(int(n - g.nodes.data()));
    g.nodes[i] = std::move(fused);  // the Mul's place: every input is produced before it
    st.rewrites["GlobalAveragePool + 2 one-pixel convs + Mul"]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
