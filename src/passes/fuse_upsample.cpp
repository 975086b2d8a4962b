// Elementwise chains that cost whole passes over large tensors in FPN
// necks (PP-OCR det spent about 10% of its time there):
//   a + a*g            a squeeze-excite style gate g of shape [N|1, C, 1, 1]
//   a + up(b)          b upsampled by nearest-neighbour at integer factors
//   concat(up(b_i))    along channels, any inputs upsampled
// become one FusedAdd / FusedConcat (domain "pareto") that reads each
// operand once and writes the result once. The fused ops compute the same
// float operations in the same order, so their outputs equal the unfused
// graph's bit for bit.
#include <cmath>

#include "passes/graph_edit.h"
#include "passes/passes.h"
#include "runtime/shape_infer.h"

namespace pareto::passes {

namespace {

struct Plan {
  int a = -1, b = -1, gate = -1;  // FusedAdd's inputs (-1: absent)
  int64_t fh = 1, fw = 1;         // b's upsampling factors
  std::vector<int> absorbed;      // nodes whose work moves into the FusedAdd
};

struct AddFuser {
  ir::Graph& g;
  GraphEdit& e;
  const runtime::StaticInfo& info;
  int64_t opset;

  const ir::ValueType& type(int v) const { return info.types[size_t(v)]; }

  // v < 0 is an absent optional input: checked before it indexes anything.
  // Sizes may be unknown (a model compiled for any input size, as the OCR
  // pipeline's det): then FusedAdd checks each run's shapes and, where they
  // are not its form, adds as the unfused nodes broadcast (runtime/ops/fused.cpp).
  bool plain_4d_f32(int v) const {
    if (v < 0) return false;
    const ir::ValueType& t = type(v);
    return t.rank_known && t.dims.size() == 4 && t.dtype == DType::f32;
  }
  bool known(int v) const { return v >= 0 && type(v).fully_known(); }

  // The node producing v when v has no other reader, is no graph output and
  // the node is a plain ONNX op of that type.
  const ir::Node* sole_producer(int v, const char* op) const {
    const int p = e.producer(v);
    if (p < 0 || e.dead(p) || e.uses(v) != 1 || e.is_output(v)) return nullptr;
    const ir::Node& n = g.nodes[size_t(p)];
    return n.op_type == op && n.domain.empty() && n.outputs.size() == 1 ? &n : nullptr;
  }

  // Nearest Resize whose output index o reads input index floor(o / f) on
  // the two spatial axes and keeps N and C: asymmetric + floor, or
  // half_pixel + round_prefer_* (for an integer f the rounding never meets
  // a tie, and both give floor(o / f)). The scales must be those integers
  // exactly (a scale of 2.0000001 moves some taps), or sizes the exact
  // multiples (scale = size / in is then exact). Opset 11's input layout
  // (X, roi, scales, sizes) and attributes; opset 10's Resize has neither.
  bool integer_upsample(const ir::Node& r, int64_t* fh, int64_t* fw) const {
    if (opset < 11) return false;
    if (r.attr_s("mode", "nearest") != "nearest" || r.attr_i("antialias", 0) != 0 || r.has_attr("axes")) return false;
    const std::string coord = r.attr_s("coordinate_transformation_mode", "half_pixel");
    const std::string nearest = r.attr_s("nearest_mode", "round_prefer_floor");
    const bool floor_map = (coord == "asymmetric" && nearest == "floor") ||
                           (coord == "half_pixel" && (nearest == "round_prefer_floor" || nearest == "round_prefer_ceil"));
    if (!floor_map || r.inputs.size() < 3 || !plain_4d_f32(r.inputs[0]) || !plain_4d_f32(r.outputs[0])) return false;
    if (!known(r.inputs[0]) || !known(r.outputs[0])) return scale_factors(r, fh, fw);
    const Shape& in = type(r.inputs[0]).dims;
    const Shape& out = type(r.outputs[0]).dims;
    if (in[0] != out[0] || in[1] != out[1] || in[2] <= 0 || in[3] <= 0 || out[2] < in[2] || out[3] < in[3] || out[2] % in[2] ||
        out[3] % in[3])
      return false;
    *fh = out[2] / in[2];
    *fw = out[3] / in[3];
    const Tensor* scales = r.inputs[2] >= 0 ? e.constant(r.inputs[2]) : nullptr;
    const Tensor* sizes = r.inputs.size() > 3 && r.inputs[3] >= 0 ? e.constant(r.inputs[3]) : nullptr;
    if (scales && scales->numel() == 4 && !sizes) {
      const double want[4] = {1, 1, double(*fh), double(*fw)};
      for (int64_t d = 0; d < 4; ++d)
        if (scales->as_double(d) != want[d]) return false;
      return true;
    }
    if (sizes && sizes->numel() == 4 && (!scales || scales->numel() == 0)) {
      for (int64_t d = 0; d < 4; ++d)
        if (sizes->as_double(d) != double(out[size_t(d)])) return false;
      return true;
    }
    return false;
  }

  // Sizes unknown: constant scales [1, 1, fh, fw] of integers (then every
  // output index o reads floor(o / f), whatever the input's size).
  bool scale_factors(const ir::Node& r, int64_t* fh, int64_t* fw) const {
    const Tensor* scales = r.inputs[2] >= 0 ? e.constant(r.inputs[2]) : nullptr;
    const bool sizes = r.inputs.size() > 3 && r.inputs[3] >= 0;
    if (!scales || scales->numel() != 4 || sizes || scales->as_double(0) != 1 || scales->as_double(1) != 1) return false;
    const double h = scales->as_double(2), w = scales->as_double(3);
    if (!(h >= 1 && h <= 64 && w >= 1 && w <= 64) || h != std::floor(h) || w != std::floor(w)) return false;
    *fh = int64_t(h);
    *fw = int64_t(w);
    return true;
  }

  // add = Add(x, Mul(x, g)) with g [N|1, C, 1, 1]: sets a = x, gate = g
  // and absorbs the Mul.
  bool gated(const ir::Node& add, Plan* p) const {
    if (add.inputs.size() != 2 || add.outputs.size() != 1) return false;
    for (int side = 0; side < 2; ++side) {
      const int x = add.inputs[size_t(side)];
      const ir::Node* mul = sole_producer(add.inputs[size_t(1 - side)], "Mul");
      if (!mul || mul->inputs.size() != 2 || !plain_4d_f32(x) || !dims_may_match(type(x), type(add.outputs[0]))) continue;
      const int gate = mul->inputs[0] == x ? mul->inputs[1] : mul->inputs[1] == x ? mul->inputs[0] : -1;
      if (gate < 0 || gate == x || !plain_4d_f32(gate)) continue;
      const Shape& gd = type(gate).dims;
      const Shape& xd = type(x).dims;
      // One value per channel (known), per image or for all.
      if ((gd[0] != 1 && gd[0] >= 0 && xd[0] >= 0 && gd[0] != xd[0]) || gd[1] < 0 || gd[1] != xd[1] || gd[2] != 1 || gd[3] != 1) continue;
      p->a = x;
      p->gate = gate;
      p->absorbed.push_back(int(mul - g.nodes.data()));
      return true;
    }
    return false;
  }

  // The nearest integer upsample producing v, read only there: its input
  // and factors.
  const ir::Node* upsample_of(int v, int64_t* fh, int64_t* fw) const {
    const ir::Node* r = sole_producer(v, "Resize");
    return r && integer_upsample(*r, fh, fw) ? r : nullptr;
  }

  // Concat along channels of 4-D f32 tensors, at least one upsampled:
  // the new inputs, their factors, the Resize nodes absorbed.
  bool plan_concat(const ir::Node& n, std::vector<int>* inputs, std::vector<int64_t>* factors, std::vector<int>* absorbed) const {
    if (n.op_type != "Concat" || !n.domain.empty() || n.inputs.empty() || n.outputs.size() != 1 || !plain_4d_f32(n.outputs[0])) return false;
    const int64_t axis = n.attr_i("axis", 0);
    if (axis != 1 && axis != -3) return false;
    for (int v : n.inputs) {
      if (!plain_4d_f32(v)) return false;
      int64_t fh = 1, fw = 1;
      const ir::Node* r = upsample_of(v, &fh, &fw);
      if (r) absorbed->push_back(int(r - g.nodes.data()));
      inputs->push_back(r ? r->inputs[0] : v);
      factors->push_back(fh);
      factors->push_back(fw);
    }
    return !absorbed->empty();
  }

  // The plan for Add node `n`, or false when it fuses nothing.
  bool plan(const ir::Node& n, Plan* p) const {
    if (n.op_type != "Add" || !n.domain.empty() || n.inputs.size() != 2 || n.outputs.size() != 1) return false;
    if (!plain_4d_f32(n.outputs[0]) || n.inputs[0] < 0 || n.inputs[1] < 0 || n.inputs[0] == n.inputs[1]) return false;
    for (int side = 0; side < 2; ++side) {
      const ir::Node* r = upsample_of(n.inputs[size_t(side)], &p->fh, &p->fw);
      const int other = n.inputs[size_t(1 - side)];
      // Both operands already have the Add's shape: a broadcasting Add
      // (an upsample to [N, C, 1, W] added to [N, C, H, W]) is not this.
      if (!r || !plain_4d_f32(other) || !dims_may_match(type(other), type(n.outputs[0])) || !dims_may_match(type(r->outputs[0]), type(n.outputs[0]))) continue;
      p->b = r->inputs[0];
      p->absorbed.push_back(int(r - g.nodes.data()));
      // The other operand may itself be a gated Add read only here.
      const ir::Node* inner = sole_producer(other, "Add");
      if (inner && gated(*inner, p)) p->absorbed.push_back(int(inner - g.nodes.data()));
      else p->a = other;
      return true;
    }
    return gated(n, p);
  }
};

}  // namespace

// Each Add or Concat node that fuses becomes the fused op (it stays where
// it is: every input it takes is produced before it), the nodes it absorbs
// go.
PassStats fuse_upsample(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_upsample", g.nodes.size(), 0, {}};
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  AddFuser f{g, e, info, ctx.opset};
  // From the last node back: an Add that takes an upsampled operand gets
  // the first pick of a gated Add feeding it (front to back, the gated Add
  // would fuse on its own first and leave the pair as two passes).
  for (size_t n = g.nodes.size(); n-- > 0;) {
    if (e.dead(int(n))) continue;
    ir::Node& node = g.nodes[n];
    std::vector<int> inputs, absorbed;
    std::vector<int64_t> factors;
    if (f.plan_concat(node, &inputs, &factors, &absorbed)) {
      node.op_type = "FusedConcat";
      node.domain = "pareto";
      node.inputs = inputs;
      node.attrs.clear();  // the axis is 1 by construction
      node.set_attr(ir::attr_ints("upsample", factors));
      for (int k : absorbed) e.kill(k);
      st.rewrites["upsample + Concat"]++;
      continue;
    }
    Plan p;
    if (!f.plan(node, &p)) continue;
    node.op_type = "FusedAdd";
    node.domain = "pareto";
    node.inputs = {p.a, p.b, p.gate};
    if (p.b >= 0) node.set_attr(ir::attr_ints("upsample", {p.fh, p.fw}));
    // Shapes not all known here: a run whose shapes are not the fused form's is added as the Add broadcast.
    if (!(f.known(p.a) && (p.b < 0 || f.known(p.b)) && (p.gate < 0 || f.known(p.gate)) && f.known(node.outputs[0])))
      node.set_attr(ir::attr_int("broadcast_fallback", 1));
    for (int k : p.absorbed) e.kill(k);
    st.rewrites[std::string(p.gate >= 0 ? "gate" : "") + (p.gate >= 0 && p.b >= 0 ? " + " : "") + (p.b >= 0 ? "upsample" : "") + " Add"]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
