#include <cmath>
#include <functional>

#include "passes/graph_edit.h"
#include "passes/passes.h"

namespace pareto::passes {

namespace {

struct Branch {
  int node = -1;      // Conv or BatchNormalization node, -1 for the bare input
  bool conv = false;
};

struct Reparam {
  ir::Graph& g;
  GraphEdit& e;

  // Leaves of a tree of single-use Adds rooted at `add`.
  bool leaves(int value, std::vector<int>* out, std::vector<int>* adds, bool root) {
    const int p = e.producer(value);
    if (p >= 0 && !e.dead(p) && g.nodes[size_t(p)].op_type == "Add" && g.nodes[size_t(p)].domain.empty() &&
        g.nodes[size_t(p)].inputs.size() == 2 && (root || e.uses(value) == 1)) {
      adds->push_back(p);
      return leaves(g.nodes[size_t(p)].inputs[0], out, adds, false) && leaves(g.nodes[size_t(p)].inputs[1], out, adds, false);
    }
    out->push_back(value);
    return true;
  }

  // Conv geometry a merge can keep: odd square kernel, centred symmetric padding, no dilation.
  bool plain_conv(const ir::Node& n, int64_t* k) {
    const Tensor* w = n.inputs.size() > 1 ? e.constant(n.inputs[1]) : nullptr;
    if (n.op_type != "Conv" || !n.domain.empty() || !w || w->rank() != 4 || w->dtype() != DType::f32) return false;
    if (ir::int8_compute(n)) return false;  // an int8 conv (fold_qdq): its weights stay on their grid
    if (n.inputs.size() > 2 && n.inputs[2] >= 0 && !e.constant(n.inputs[2])) return false;
    if (w->dim(2) != w->dim(3) || w->dim(2) % 2 == 0) return false;
    *k = w->dim(2);
    if (n.attr_s("auto_pad", "NOTSET") != "NOTSET") return false;
    for (int64_t d : n.attr_ints("dilations", {1, 1}))
      if (d != 1) return false;
    for (int64_t p : n.attr_ints("pads", {0, 0, 0, 0}))
      if (p != *k / 2) return false;
    return true;
  }

  bool try_merge(int root_add, PassStats& st) {
    std::vector<int> vals, adds;
    if (!leaves(g.nodes[size_t(root_add)].outputs[0], &vals, &adds, true) || vals.size() < 2) return false;
    int x = -1, first_conv = -1;
    int64_t kmax = 0, cout = -1, group = -1;
    std::vector<int64_t> strides;
    std::vector<Branch> branches;
    for (int v : vals) {
      const int p = e.producer(v);
      Branch b;
      int input = v;
      if (p >= 0 && e.uses(v) == 1 && !e.dead(p)) {
        const ir::Node& n = g.nodes[size_t(p)];
        int64_t k;
        if (plain_conv(n, &k)) {
          b = {p, true};
          input = n.inputs[0];
          const Tensor& w = *e.constant(n.inputs[1]);
          if (cout >= 0 && (w.dim(0) != cout || n.attr_i("group", 1) != group || n.attr_ints("strides", {1, 1}) != strides)) return false;
          cout = w.dim(0);
          group = n.attr_i("group", 1);
          strides = n.attr_ints("strides", {1, 1});
          kmax = std::max(kmax, k);
          if (first_conv < 0) first_conv = p;
        } else if (n.op_type == "BatchNormalization" && n.domain.empty() && n.inputs.size() >= 5) {
          for (int i = 1; i < 5; ++i)
            if (!e.constant(n.inputs[size_t(i)])) return false;
          b = {p, false};
          input = n.inputs[0];
        }
      }
      if (x >= 0 && input != x) return false;
      x = input;
      branches.push_back(b);
    }
    if (first_conv < 0) return false;
    const Tensor& w0 = *e.constant(g.nodes[size_t(first_conv)].inputs[1]);
    const int64_t cin_g = w0.dim(1);
    Tensor w = Tensor::zeros(DType::f32, {cout, cin_g, kmax, kmax});
    std::vector<float> bias(size_t(cout), 0.f);
    float* wd = w.data<float>();
    for (const Branch& b : branches) {
      if (b.conv) {
        const ir::Node& n = g.nodes[size_t(b.node)];
        const Tensor& bw = *e.constant(n.inputs[1]);
        const int64_t k = bw.dim(2), off = (kmax - k) / 2;  // a smaller kernel sits in the centre
        const float* s = bw.data<float>();
        for (int64_t o = 0; o < cout; ++o)
          for (int64_t i = 0; i < cin_g; ++i)
            for (int64_t r = 0; r < k; ++r)
              for (int64_t c = 0; c < k; ++c) wd[((o * cin_g + i) * kmax + r + off) * kmax + c + off] += s[((o * cin_g + i) * k + r) * k + c];
        if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
          std::vector<float> bv;
          if (!per_channel(*e.constant(n.inputs[2]), cout, 2, &bv)) return false;
          for (int64_t o = 0; o < cout; ++o) bias[size_t(o)] += bv[size_t(o)];
        }
        continue;
      }
      // Identity (optionally through a BatchNorm) as a centre-one kernel: needs
      // the channel's own input in its group and stride 1.
      if (cin_g * group != cout || (!strides.empty() && (strides[0] != 1 || strides[1] != 1))) return false;
      std::vector<float> t(size_t(cout), 1.f), shift(size_t(cout), 0.f);
      if (b.node >= 0 && !batchnorm_affine(e, g.nodes[size_t(b.node)], cout, &t, &shift)) return false;
      for (int64_t o = 0; o < cout; ++o) {
        wd[((o * cin_g + o % cin_g) * kmax + kmax / 2) * kmax + kmax / 2] += t[size_t(o)];
        bias[size_t(o)] += shift[size_t(o)];
      }
    }
    ir::Node& conv = g.nodes[size_t(first_conv)];
    conv.inputs.resize(3, -1);
    conv.inputs[1] = e.add_constant(conv.name + "_reparam_w", w);
    conv.inputs[2] = e.add_constant(conv.name + "_reparam_b", Tensor::from_vector(bias, {cout}));
    for (auto& a : conv.attrs) {
      if (a.name == "pads") a.ints = {kmax / 2, kmax / 2, kmax / 2, kmax / 2};
      if (a.name == "kernel_shape") a.ints = {kmax, kmax};
    }
    if (!conv.has_attr("pads")) conv.set_attr(ir::attr_ints("pads", {kmax / 2, kmax / 2, kmax / 2, kmax / 2}));
    conv.outputs[0] = g.nodes[size_t(root_add)].outputs[0];
    for (const Branch& b : branches)
      if (b.node >= 0 && b.node != first_conv) e.kill(b.node);
    for (int a : adds) e.kill(a);
    st.rewrites[std::to_string(branches.size()) + " branches -> 1 conv"]++;
    return true;
  }
};

}  // namespace

// Structural re-parameterization (RepVGG, MobileOne, RepViT): branches that
// read the same input through convs of odd square kernels with centred
// padding (BatchNorms already folded), a BatchNorm alone, or nothing at all,
// and are summed by Adds, become one conv: smaller kernels padded to the
// largest, the identity as a centre-one kernel, weights and biases summed.
PassStats reparameterize_branches(ir::Graph& g, const PassContext&) {
  PassStats st{"reparameterize_branches", g.nodes.size(), 0, {}};
  for (bool changed = true; changed;) {
    changed = false;
    GraphEdit e(g);
    Reparam r{g, e};
    for (int n : g.topological_order()) {
      const ir::Node& node = g.nodes[size_t(n)];
      if (e.dead(n) || node.op_type != "Add" || !node.domain.empty() || node.outputs.empty()) continue;
      // only tree roots: an Add whose single consumer is another Add is reached from there
      const int c = e.only_consumer(node.outputs[0]);
      if (c >= 0 && g.nodes[size_t(c)].op_type == "Add") continue;
      if (r.try_merge(n, st)) {
        changed = true;
        break;
      }
    }
    e.commit();
  }
  st.nodes_after = g.nodes.size();
  return st;
}

}  // namespace pareto::passes
