#include <cmath>
#include <vector>

#include "kernels/int8_conv.h"
#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {

struct Folder {
  ir::Graph& g;
  GraphEdit& e;
  PassStats& st;

  // Output channels of a Conv / ConvTranspose / Gemm with constant weights; -1 if not foldable.
  int64_t channels(const ir::Node& n) {
    const Tensor* w = n.inputs.size() > 1 ? e.constant(n.inputs[1]) : nullptr;
    if (!w || w->dtype() != DType::f32 || w->rank() < 2 || w->numel() == 0) return -1;
    if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !e.constant(n.inputs[2])) return -1;
    if (n.op_type == "Conv" || (n.op_type == "FusedConv" && !n.has_attr("activation") && n.inputs.size() < 4)) return w->dim(0);
    if (n.op_type == "ConvTranspose") {  // [c_in, c_out/group, k...]; a group that does not divide c_in is left to the kernel's error
      const int64_t group = n.attr_i("group", 1);
      if (group <= 0 || w->dim(0) % group || w->dim(1) > w->numel() / group) return -1;
      return w->dim(1) * group;
    }
    if (n.op_type == "Gemm" && w->rank() == 2 && n.attr_i("transA", 0) == 0) return n.attr_i("transB", 0) ? w->dim(0) : w->dim(1);
    return -1;
  }

  // An int8 conv's row of weights, each exactly code * w_scale (fold_qdq
  // writes them so), scaled by `factor`: code * (w_scale * factor), the
  // weight scale the row gets below, so the weights stay exactly on their
  // new grid (the artifact stores them as codes; the float paths compute
  // with what the int8 kernel computes with) instead of code * w_scale *
  // factor rounded twice. False, row untouched, where a weight is off its grid.
  static bool snap_to_codes(float* row, int64_t n, float w_scale, float factor) {
    std::vector<int8_t> codes(static_cast<size_t>(n));
    if (!kernels::exact_int8_codes(row, n, w_scale, codes.data())) return false;
    const float new_scale = w_scale * factor;
    for (int64_t k = 0; k < n; ++k) row[k] = float(codes[size_t(k)]) * new_scale;
    return true;
  }

  // Rewrites producer p to compute scale[c] * y + shift[c] per output channel.
  void apply(ir::Node& p, const std::vector<float>& scale, const std::vector<float>& shift) {
    const Tensor& w = *e.constant(p.inputs[1]);
    Tensor nw = w.clone();
    float* wd = nw.data<float>();
    const int64_t c = int64_t(scale.size());
    if (p.op_type == "ConvTranspose") {  // [c_in, c_out/group, k...]: output channel = group * (c_out/group) + j
      const int64_t group = p.attr_i("group", 1), per = w.dim(1), inner = w.numel() / (w.dim(0) * per), cin_g = w.dim(0) / group;
      for (int64_t i = 0; i < w.dim(0); ++i)
        for (int64_t j = 0; j < per; ++j)
          for (int64_t k = 0; k < inner; ++k) wd[(i * per + j) * inner + k] *= scale[size_t((i / cin_g) * per + j)];
    } else if (p.op_type == "Gemm" && !p.attr_i("transB", 0)) {  // [K, N]: scale columns
      for (int64_t r = 0; r < w.dim(0); ++r)
        for (int64_t j = 0; j < c; ++j) wd[r * c + j] *= scale[size_t(j)];
    } else {  // [c_out, ...]
      const int64_t inner = w.numel() / c;
      const ir::Attribute* w_scales = p.attr("w_scales");
      for (int64_t o = 0; o < c; ++o) {
        float* row = wd + o * inner;
        if (w_scales && int64_t(w_scales->floats.size()) == c && snap_to_codes(row, inner, w_scales->floats[size_t(o)], scale[size_t(o)])) continue;
        for (int64_t k = 0; k < inner; ++k) row[k] *= scale[size_t(o)];
      }
    }
    std::vector<float> bias(size_t(c), 0.f);
    const Tensor* b = p.inputs.size() > 2 && p.inputs[2] >= 0 ? e.constant(p.inputs[2]) : nullptr;
    float beta = p.op_type == "Gemm" ? p.attr_f("beta", 1.f) : 1.f;
    if (b) {
      std::vector<float> bv;
      per_channel(*b, c, 2, &bv);  // checked by bias_ok()
      for (int64_t o = 0; o < c; ++o) bias[size_t(o)] = beta * bv[size_t(o)];
    }
    for (int64_t o = 0; o < c; ++o) bias[size_t(o)] = bias[size_t(o)] * scale[size_t(o)] + shift[size_t(o)];
    // An int8 conv (fold_qdq) keeps its weights on the int8 grid: the
    // per-channel factor goes into its weight scales too.
    for (auto& a : p.attrs)
      if (a.name == "w_scales" && int64_t(a.floats.size()) == c)
        for (int64_t o = 0; o < c; ++o) a.floats[size_t(o)] *= scale[size_t(o)];
    const int nw_id = e.add_constant(g.values[size_t(p.inputs[1])].name + "_folded", nw);
    const int nb_id = e.add_constant(p.name + "_bias_folded", Tensor::from_vector(bias, {c}));
    p.inputs[1] = nw_id;
    if (p.inputs.size() < 3) p.inputs.resize(3, -1);
    p.inputs[2] = nb_id;
    if (p.op_type == "Gemm")
      for (auto& a : p.attrs)
        if (a.name == "beta") a.f = 1.f;
  }

  // The bias must be one value per output channel (or feature) to fold into.
  bool bias_ok(const ir::Node& p, int64_t c) {
    if (p.inputs.size() < 3 || p.inputs[2] < 0) return true;
    const Tensor* b = e.constant(p.inputs[2]);
    std::vector<float> tmp;
    return b && b->numel() == c && per_channel(*b, c, 2, &tmp);
  }

  bool try_fold(int pn) {
    ir::Node& p = g.nodes[size_t(pn)];
    const int64_t c = channels(p);
    if (c <= 0 || p.outputs.empty() || !bias_ok(p, c)) return false;
    const int out = p.outputs[0];
    const int cn = e.only_consumer(out);
    if (cn < 0 || e.dead(cn)) return false;
    ir::Node& q = g.nodes[size_t(cn)];
    if (!q.domain.empty()) return false;
    const int rank = p.op_type == "Gemm" ? 2 : int(e.constant(p.inputs[1])->rank());
    std::vector<float> scale(size_t(c), 1.f), shift(size_t(c), 0.f);
    if (q.op_type == "BatchNormalization") {
      if (!batchnorm_affine(e, q, c, &scale, &shift)) return false;
    } else if (q.op_type == "Mul" || q.op_type == "Add" || q.op_type == "Sub" || q.op_type == "Div") {
      if (q.inputs.size() != 2) return false;
      const int other = q.inputs[0] == out ? q.inputs[1] : q.inputs[0];
      if ((q.op_type == "Sub" || q.op_type == "Div") && q.inputs[0] != out) return false;
      const Tensor* k = e.constant(other);
      std::vector<float> kv;
      if (!k || !per_channel(*k, c, rank, &kv)) return false;
      for (int64_t o = 0; o < c; ++o) {
        const float v = kv[size_t(o)];
        if (q.op_type == "Mul") scale[size_t(o)] = v;
        if (q.op_type == "Div") scale[size_t(o)] = 1.f / v;
        if (q.op_type == "Add") shift[size_t(o)] = v;
        if (q.op_type == "Sub") shift[size_t(o)] = -v;
      }
    } else {
      return false;
    }
    // A zero or non-finite factor would leave an int8 conv's weights off any grid.
    // So would a new weight scale that overflows or underflows to 0.
    if (const ir::Attribute* ws = p.attr("w_scales"))
      for (size_t o = 0; o < scale.size(); ++o) {
        const float v = scale[o], folded = o < ws->floats.size() ? ws->floats[o] * v : v;
        if (!(std::isfinite(v) && v != 0.f && std::isfinite(folded) && folded != 0.f)) return false;
      }
    apply(p, scale, shift);
    p.outputs[0] = q.outputs[0];  // the producer takes over the consumer's output (and its name)
    e.kill(cn);
    st.rewrites[p.op_type + " + " + q.op_type]++;
    return true;
  }
};

}  // namespace

// BatchNormalization folded into the Conv, ConvTranspose or Gemm before it
// (t = gamma / sqrt(var + eps): W' = W t, b' = (b - mean) t + beta), and
// per-channel or scalar Mul / Div / Add / Sub by constants folded the same
// way (the exported `Conv -> Mul(s) -> Add(t)` chains of PP-OCR).
PassStats fold_conv_affine(ir::Graph& g, const PassContext&) {
  PassStats st{"fold_conv_affine", g.nodes.size(), 0, {}};
  for (bool changed = true; changed;) {
    changed = false;
    GraphEdit e(g);
    Folder f{g, e, st};
    for (size_t n = 0; n < g.nodes.size(); ++n)
      if (!e.dead(int(n))) changed |= f.try_fold(int(n));
    e.commit();
  }
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
