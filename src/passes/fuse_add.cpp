// Elementwise chains around Add that cost whole passes over large tensors
// in FPN necks (PP-OCR det spends about 10% of its time there):
//   a + a*g          a squeeze-excite style gate g of shape [N|1, C, 1, 1]
//   a + up(b)        b upsampled by nearest-neighbour at integer factors
// become one FusedAdd (domain "pareto") that reads a, g and b once and
// writes the sum once. The fused op computes the same float operations in
// the same order, so its output equals the unfused graph's bit for bit.
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

  const ir::ValueType& type(int v) const { return info.types[size_t(v)]; }

  bool plain_4d_f32(int v) const {
    const ir::ValueType& t = type(v);
    return v >= 0 && t.fully_known() && t.dims.size() == 4 && t.dtype == DType::f32;
  }

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
  // multiples (scale = size / in is then exact).
  bool integer_upsample(const ir::Node& r, int64_t* fh, int64_t* fw) const {
    if (r.attr_s("mode", "nearest") != "nearest" || r.attr_i("antialias", 0) != 0 || r.has_attr("axes")) return false;
    const std::string coord = r.attr_s("coordinate_transformation_mode", "half_pixel");
    const std::string nearest = r.attr_s("nearest_mode", "round_prefer_floor");
    const bool floor_map = (coord == "asymmetric" && nearest == "floor") ||
                           (coord == "half_pixel" && (nearest == "round_prefer_floor" || nearest == "round_prefer_ceil"));
    if (!floor_map || r.inputs.size() < 3 || !plain_4d_f32(r.inputs[0]) || !plain_4d_f32(r.outputs[0])) return false;
    const Shape& in = type(r.inputs[0]).dims;
    const Shape& out = type(r.outputs[0]).dims;
    if (in[0] != out[0] || in[1] != out[1] || in[2] <= 0 || in[3] <= 0 || out[2] % in[2] || out[3] % in[3]) return false;
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

  // add = Add(x, Mul(x, g)) with g [N|1, C, 1, 1]: sets a = x, gate = g
  // and absorbs the Mul.
  bool gated(const ir::Node& add, Plan* p) const {
    if (add.inputs.size() != 2 || add.outputs.size() != 1) return false;
    for (int side = 0; side < 2; ++side) {
      const int x = add.inputs[size_t(side)];
      const ir::Node* mul = sole_producer(add.inputs[size_t(1 - side)], "Mul");
      if (!mul || mul->inputs.size() != 2 || !plain_4d_f32(x) || type(x).dims != type(add.outputs[0]).dims) continue;
      const int gate = mul->inputs[0] == x ? mul->inputs[1] : mul->inputs[1] == x ? mul->inputs[0] : -1;
      if (gate < 0 || gate == x || !plain_4d_f32(gate)) continue;
      const Shape& gd = type(gate).dims;
      const Shape& xd = type(x).dims;
      if ((gd[0] != 1 && gd[0] != xd[0]) || gd[1] != xd[1] || gd[2] != 1 || gd[3] != 1) continue;
      p->a = x;
      p->gate = gate;
      p->absorbed.push_back(int(mul - g.nodes.data()));
      return true;
    }
    return false;
  }

  // The plan for Add node `n`, or false when it fuses nothing.
  bool plan(const ir::Node& n, Plan* p) const {
    if (n.op_type != "Add" || !n.domain.empty() || n.inputs.size() != 2 || n.outputs.size() != 1) return false;
    if (!plain_4d_f32(n.outputs[0]) || n.inputs[0] < 0 || n.inputs[1] < 0 || n.inputs[0] == n.inputs[1]) return false;
    for (int side = 0; side < 2; ++side) {
      const ir::Node* r = sole_producer(n.inputs[size_t(side)], "Resize");
      const int other = n.inputs[size_t(1 - side)];
      if (!r || !integer_upsample(*r, &p->fh, &p->fw) || !plain_4d_f32(other) || type(other).dims != type(n.outputs[0]).dims) continue;
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

// Each Add node that fuses becomes the FusedAdd (it stays where it is: every input it
// takes is produced before it), the nodes it absorbs go.
PassStats fuse_add(ir::Graph& g, const PassContext& ctx) {
  PassStats st{"fuse_add", g.nodes.size(), 0, {}};
  const runtime::StaticInfo info = runtime::infer_static(g, ctx.opset, ctx.bound_shapes);
  GraphEdit e(g);
  AddFuser f{g, e, info};
  // From the last node back: an Add that takes an upsampled operand gets
  // the first pick of a gated Add feeding it (front to back, the gated Add
  // would fuse on its own first and leave the pair as two passes).
  for (size_t n = g.nodes.size(); n-- > 0;) {
    if (e.dead(int(n))) continue;
    Plan p;
    if (!f.plan(g.nodes[n], &p)) continue;
    ir::Node& add = g.nodes[n];
    add.op_type = "FusedAdd";
    add.domain = "pareto";
    add.inputs = {p.a, p.b, p.gate};
    if (p.b >= 0) add.set_attr(ir::attr_ints("upsample", {p.fh, p.fw}));
    for (int k : p.absorbed) e.kill(k);
    st.rewrites[std::string(p.gate >= 0 ? "gate" : "") + (p.gate >= 0 && p.b >= 0 ? " + " : "") + (p.b >= 0 ? "upsample" : "") + " Add"]++;
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
