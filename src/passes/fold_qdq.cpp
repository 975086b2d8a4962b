#include <algorithm>
#include <cmath>

#include "kernels/int8_conv.h"
#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {

struct QdqFolder {
  ir::Graph& g;
  GraphEdit& e;
  PassStats& st;

  const ir::Node* producer(int v, const char* op) const {
    const int p = v >= 0 ? e.producer(v) : -1;
    return p >= 0 && !e.dead(p) && g.nodes[size_t(p)].op_type == op && g.nodes[size_t(p)].domain.empty() ? &g.nodes[size_t(p)] : nullptr;
  }

  // DequantizeLinear of constants: the float tensor it stands for, and its
  // per-axis-0 scales (one per row, or one for all) in *scales.
  bool constant_dq(int v, Tensor* value, std::vector<float>* scales, bool* int8_symmetric = nullptr) const {
    const ir::Node* dq = producer(v, "DequantizeLinear");
    if (!dq || dq->inputs.size() < 2) return false;
    const Tensor* q = e.constant(dq->inputs[0]);
    const Tensor* s = e.constant(dq->inputs[1]);
    const Tensor* z = dq->inputs.size() > 2 && dq->inputs[2] >= 0 ? e.constant(dq->inputs[2]) : nullptr;
    if (!q || !s || s->dtype() != DType::f32 || (dq->inputs.size() > 2 && dq->inputs[2] >= 0 && !z)) return false;
    if (q->dtype() != DType::i8 && q->dtype() != DType::u8 && q->dtype() != DType::i32) return false;
    if (q->rank() == 0 || dq->attr_i("block_size", 0) != 0) return false;
    const int64_t rows = q->dim(0), per = rows ? q->numel() / rows : 0;
    const bool per_row = s->numel() != 1;
    if (per_row && (s->numel() != rows || dq->attr_i("axis", 1) != 0)) return false;
    if (z && z->numel() != s->numel()) return false;
    Tensor out = Tensor::empty(DType::f32, q->shape());
    float* o = out.data<float>();
    scales->assign(size_t(rows), s->data<float>()[0]);
    for (int64_t r = 0; r < rows; ++r) {
      const float sc = s->data<float>()[per_row ? r : 0];
      const double zp = z ? z->as_double(per_row ? r : 0) : 0.0;
      if (per_row) (*scales)[size_t(r)] = sc;
      for (int64_t i = 0; i < per; ++i) o[r * per + i] = float(q->as_double(r * per + i) - zp) * sc;
    }
    *value = std::move(out);
    if (int8_symmetric) {  // values on the int8 grid the kernel re-derives: int8 with zero points 0
      bool zeros = true;
      for (int64_t i = 0; z && i < z->numel(); ++i) zeros &= z->as_double(i) == 0.0;
      *int8_symmetric = q->dtype() == DType::i8 && zeros;
    }
    return true;
  }

  // A constant scalar: float scale > 0 and finite, or uint8 zero point.
  bool scalar_scale(int v) const {
    const Tensor* t = e.constant(v);
    return t && t->dtype() == DType::f32 && t->numel() == 1 && t->data<float>()[0] > 0.f && std::isfinite(t->data<float>()[0]);
  }
  bool scalar_u8(int v) const {
    const Tensor* t = e.constant(v);
    return t && t->dtype() == DType::u8 && t->numel() == 1;
  }

  // DequantizeLinear(QuantizeLinear(x, s, z), s, z) with constant scalar
  // uint8 parameters: x and them.
  bool activation_qdq(int v, int* x, float* scale, int64_t* zero) const {
    const ir::Node* dq = producer(v, "DequantizeLinear");
    if (!dq || dq->inputs.size() < 3) return false;
    const ir::Node* q = producer(dq->inputs[0], "QuantizeLinear");
    if (!q || q->inputs.size() < 3) return false;
    if (!scalar_scale(q->inputs[1]) || !scalar_u8(q->inputs[2]) || !scalar_scale(dq->inputs[1]) || !scalar_u8(dq->inputs[2])) return false;
    const Tensor *s1 = e.constant(q->inputs[1]), *z1 = e.constant(q->inputs[2]);
    const Tensor *s2 = e.constant(dq->inputs[1]), *z2 = e.constant(dq->inputs[2]);
    if (s1->data<float>()[0] != s2->data<float>()[0] || z1->data<uint8_t>()[0] != z2->data<uint8_t>()[0]) return false;
    *x = q->inputs[0];
    *scale = s1->data<float>()[0];
    *zero = z1->data<uint8_t>()[0];
    return true;
  }

  // DequantizeLinear(DynamicQuantizeLinear(x)): all three of the
  // DequantizeLinear's inputs are that node's outputs (its uint8 values,
  // scale and zero point, found per run): x.
  bool activation_dynamic(int v, int* x) const {
    const ir::Node* dq = producer(v, "DequantizeLinear");
    if (!dq || dq->inputs.size() < 3 || dq->attr_i("block_size", 0) != 0) return false;
    const ir::Node* q = producer(dq->inputs[0], "DynamicQuantizeLinear");
    if (!q || q->inputs.size() != 1 || q->outputs.size() != 3 || q->inputs[0] < 0) return false;
    for (int i = 0; i < 3; ++i)
      if (dq->inputs[size_t(i)] != q->outputs[size_t(i)]) return false;
    *x = q->inputs[0];
    return true;
  }

  // DequantizeLinear (uint8, per tensor) -> GlobalAveragePool ->
  // QuantizeLinear (uint8, per tensor) -> pareto::QGlobalAveragePool on the
  // bytes: an exact integer sum and one rounding (runtime/ops/quant_ops.cpp).
  void fold_global_pool(int ni) {
    ir::Node& pool = g.nodes[size_t(ni)];
    if (pool.inputs.size() != 1 || pool.outputs.size() != 1 || e.is_output(pool.outputs[0])) return;
    const ir::Node* dq = producer(pool.inputs[0], "DequantizeLinear");
    const int qi = e.only_consumer(pool.outputs[0]);
    if (!dq || qi < 0 || e.dead(qi)) return;
    const ir::Node& q = g.nodes[size_t(qi)];
    if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.inputs.size() < 3 || q.inputs[0] != pool.outputs[0] || q.outputs.size() != 1)
      return;
    if (dq->inputs.size() < 3 || dq->attr_i("block_size", 0) != 0 || q.attr_i("block_size", 0) != 0 || q.attr_i("output_dtype", 0) != 0)
      return;
    if (!scalar_scale(dq->inputs[1]) || !scalar_u8(dq->inputs[2]) || !scalar_scale(q.inputs[1]) || !scalar_u8(q.inputs[2])) return;
    pool.inputs = {dq->inputs[0], dq->inputs[1], dq->inputs[2], q.inputs[1], q.inputs[2]};
    pool.outputs = q.outputs;
    pool.op_type = "QGlobalAveragePool";
    pool.domain = "pareto";
    e.kill(qi);
    st.rewrites["DequantizeLinear + GlobalAveragePool + QuantizeLinear -> integer QGlobalAveragePool"]++;
  }

  // The conv reads x (the QuantizeLinear's input) and rounds it itself with
  // that QuantizeLinear's scale and zero point.
  static void reads_uint8_grid(ir::Node& conv, int x, float x_scale, int64_t x_zero) {
    conv.inputs[0] = x;
    conv.set_attr(ir::attr_float("x_scale", x_scale));
    conv.set_attr(ir::attr_int("x_zero_point", x_zero));
  }

  // A depthwise conv with float weights on a Q -> DQ input (PP-OCR's
  // depthwise convs in its QDQ files, kept float by the quantizer): the
  // plane kernels read the uint8 grid as for quantized weights, the same
  // (q - zero) * scale the DequantizeLinear computes.
  void fold_float_depthwise(ir::Node& conv) {
    const Tensor* w = e.constant(conv.inputs[1]);
    int x = -1;
    float x_scale = 0;
    int64_t x_zero = 0;
    if (!w || w->dtype() != DType::f32 || w->rank() != 4 || w->dim(1) != 1 || conv.attr_i("group", 1) <= 1) return;
    if (!activation_qdq(conv.inputs[0], &x, &x_scale, &x_zero)) return;
    reads_uint8_grid(conv, x, x_scale, x_zero);
    st.rewrites["QuantizeLinear + DequantizeLinear + float depthwise Conv -> depthwise Conv on uint8"]++;
  }

  // DequantizeLinear of a 2-D int8 constant [k, n] with zero points 0 and
  // one scale per column (axis 1) or one for all: the float values it
  // stands for and the per-column scales.
  bool int8_columns_dq(int v, Tensor* value, std::vector<float>* scales) const {
    const ir::Node* dq = producer(v, "DequantizeLinear");
    if (!dq || dq->inputs.size() < 2 || dq->attr_i("block_size", 0) != 0) return false;
    const Tensor* q = e.constant(dq->inputs[0]);
    const Tensor* s = e.constant(dq->inputs[1]);
    const Tensor* z = dq->inputs.size() > 2 && dq->inputs[2] >= 0 ? e.constant(dq->inputs[2]) : nullptr;
    if (!q || q->dtype() != DType::i8 || q->rank() != 2 || !s || s->dtype() != DType::f32) return false;
    const int64_t k = q->dim(0), n = q->dim(1), axis = dq->attr_i("axis", 1);
    if (k <= 0 || n <= 0 || k > kernels::kMaxInt8ConvK) return false;  // what the int8 kernel takes
    const bool per_column = s->numel() != 1;
    if (per_column && (s->numel() != n || (axis != 1 && axis != -1))) return false;
    if (dq->inputs.size() > 2 && dq->inputs[2] >= 0 && (!z || z->numel() != s->numel() || z->dtype() != DType::i8)) return false;
    for (int64_t i = 0; z && i < z->numel(); ++i)
      if (z->data<int8_t>()[i] != 0) return false;
    scales->resize(size_t(n));
    for (int64_t j = 0; j < n; ++j) (*scales)[size_t(j)] = s->data<float>()[per_column ? j : 0];
    // Normal scales whose 128-fold is finite: the kernel re-derives each
    // weight as nearbyint((q * s) / s), exact only there.
    for (float sc : *scales)
      if (!(sc > 0.f) || !std::isnormal(sc) || !std::isfinite(128.f * sc)) return false;
    Tensor out = Tensor::empty(DType::f32, q->shape());
    for (int64_t i = 0; i < k * n; ++i) out.data<float>()[i] = float(q->data<int8_t>()[i]) * (*scales)[size_t(i % n)];
    *value = std::move(out);
    return true;
  }

  // MatMul(DequantizeLinear(QuantizeLinear(x)), DequantizeLinear(w int8
  // [k, n])) (x float: its QuantizeLinear has a float scale): the int8 MatMul kernel (attributes
  // x_scale, x_zero_point, w_scales; B kept as the float values it stands
  // for, as the convs keep their weights).
  void fold_matmul(int ni) {
    ir::Node& mm = g.nodes[size_t(ni)];
    if (mm.inputs.size() != 2 || mm.outputs.size() != 1 || mm.inputs[0] < 0 || mm.inputs[1] < 0) return;
    Tensor b;
    std::vector<float> scales;
    int x = -1;
    float x_scale = 0;
    int64_t x_zero = 0;
    if (!int8_columns_dq(mm.inputs[1], &b, &scales) || !activation_qdq(mm.inputs[0], &x, &x_scale, &x_zero)) return;
    mm.inputs[1] = e.add_constant(g.values[size_t(mm.inputs[1])].name + "_float", b);
    reads_uint8_grid(mm, x, x_scale, x_zero);
    mm.set_attr(ir::attr_floats("w_scales", scales));
    st.rewrites["QuantizeLinear + DequantizeLinear + MatMul -> int8 MatMul"]++;
  }

  void fold(int ni) {
    ir::Node& conv = g.nodes[size_t(ni)];
    if (conv.inputs.size() < 2) return;
    Tensor w, b;
    std::vector<float> w_scales, b_scales;
    bool w_int8 = false;
    if (!constant_dq(conv.inputs[1], &w, &w_scales, &w_int8)) return fold_float_depthwise(conv);
    const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] >= 0;
    if (has_bias && !constant_dq(conv.inputs[2], &b, &b_scales) && !e.constant(conv.inputs[2])) return;
    int x = -1;
    float x_scale = 0;
    int64_t x_zero = 0;
    // The kernel takes int8 weights with zero point 0 (uint8 or offset weights
    // from other tools run as float on the rounded input: still exact).
    const int64_t group = conv.attr_i("group", 1);
    const bool int8 = w_int8 && group == 1 && w.rank() >= 3 && activation_qdq(conv.inputs[0], &x, &x_scale, &x_zero);
    // The same with the input's range found per run (pareto quantize --dynamic).
    const bool dynamic = !int8 && w_int8 && group == 1 && w.rank() >= 3 && activation_dynamic(conv.inputs[0], &x);
    // A depthwise conv (one input channel per group) reads its input on the
    // uint8 grid itself: the plane kernels dequantize each plane while it is
    // in cache and compute in float with the dequantized weights, which is
    // what the Q -> DQ -> Conv graph says; its producer may then write uint8.
    const bool depthwise = !int8 && group > 1 && w.rank() == 4 && w.dim(1) == 1 && activation_qdq(conv.inputs[0], &x, &x_scale, &x_zero);
    conv.inputs[1] = e.add_constant(g.values[size_t(conv.inputs[1])].name + "_float", w);
    if (has_bias && b.defined()) conv.inputs[2] = e.add_constant(g.values[size_t(conv.inputs[2])].name + "_float", b);
    if (depthwise) {
      reads_uint8_grid(conv, x, x_scale, x_zero);
      // int8 weights with zero point 0 and normal scales (the runtime
      // re-derives each code as nearbyint(w / scale), exact there): the
      // integer plane kernel may sum it (kernels/u8_depthwise.h).
      if (w_int8 && std::all_of(w_scales.begin(), w_scales.end(), [](float sc) { return sc > 0.f && std::isnormal(sc) && std::isfinite(128.f * sc); }))
        conv.set_attr(ir::attr_floats("w_scales", w_scales));
      st.rewrites["QuantizeLinear + DequantizeLinear + depthwise Conv -> depthwise Conv on uint8"]++;
      return;
    }
    if (dynamic) {
      conv.inputs[0] = x;
      conv.set_attr(ir::attr_int("x_dynamic", 1));
      conv.set_attr(ir::attr_floats("w_scales", w_scales));
      st.rewrites["DynamicQuantizeLinear + DequantizeLinear + Conv -> int8 Conv (input range per run)"]++;
      return;
    }
    if (!int8) {  // weights to float; the activation's Q/DQ stays as it is (a float conv on rounded values)
      st.rewrites["Conv weights dequantized at compile time"]++;
      return;
    }
    // The int8 kernel reads x itself, quantizes it with the same rule the
    // QuantizeLinear had, and multiplies the int8 weights the float
    // weights are exactly (w = q * scale per output channel).
    reads_uint8_grid(conv, x, x_scale, x_zero);
    conv.set_attr(ir::attr_floats("w_scales", w_scales));
    st.rewrites["DequantizeLinear + Conv -> int8 Conv"]++;
  }
};

}  // namespace

// QDQ models (pareto's own from `pareto quantize`, or other tools'): a Conv
// whose weights are a DequantizeLinear of constants and whose input is a
// QuantizeLinear -> DequantizeLinear pair runs on the int8 kernel (attributes
// x_scale, x_zero_point, w_scales; the weights kept as the float values
// they stand for, so later folds see an ordinary conv). Runs before
// constant folding, which would turn the weights' DequantizeLinear into
// plain floats and lose their scales. A GlobalAveragePool between a uint8
// DequantizeLinear and QuantizeLinear sums the bytes (QGlobalAveragePool).
// A MatMul by int8 weights on such a pair runs on the int8 MatMul kernel.
PassStats fold_qdq(ir::Graph& g, const PassContext&) {
  PassStats st{"fold_qdq", g.nodes.size(), 0, {}};
  GraphEdit e(g);
  QdqFolder f{g, e, st};
  for (int ni : g.topological_order()) {
    const ir::Node& n = g.nodes[size_t(ni)];
    if (n.op_type == "Conv" && n.domain.empty() && !ir::int8_compute(n)) f.fold(ni);
    if (n.op_type == "GlobalAveragePool" && n.domain.empty()) f.fold_global_pool(ni);
    if (n.op_type == "MatMul" && n.domain.empty() && !n.has_attr("x_scale")) f.fold_matmul(ni);
  }
  e.commit();
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
