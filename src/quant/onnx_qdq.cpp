#include "quant/onnx_qdq.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "core/thread_pool.h"
#include "frontend/onnx/opset_upgrade.h"
#include "kernels/int8_conv.h"
#include "quant/layer_gptq.h"
#include "quant/onnx_gptq.h"
#include "runtime/executor.h"
#include "runtime/shape_infer.h"

namespace pareto::quant {

namespace {

// A copy whose subgraphs are copies too (the rewrite edits them).
std::shared_ptr<ir::Graph> clone_graph(const ir::Graph& g) {
  auto c = std::make_shared<ir::Graph>(g);
  for (ir::Node& n : c->nodes)
    for (ir::Attribute& a : n.attrs) {
      if (a.g) a.g = clone_graph(*a.g);
      for (auto& sub : a.graphs) sub = clone_graph(*sub);
    }
  return c;
}

ir::Model clone_model(const ir::Model& m) {
  ir::Model c = m;
  c.graph = clone_graph(*m.graph);
  return c;
}

// Convs pareto quantizes: 1-D/2-D, float, with constant weights (and bias).
bool quantizable_conv(const ir::Graph& g, const ir::Node& n) {
  if (n.op_type != "Conv" || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.size() < 2 || n.inputs[1] < 0) return false;
  const Tensor& w = g.values[size_t(n.inputs[1])].constant;
  if (!w.defined() || w.dtype() != DType::f32 || (w.rank() != 4 && w.rank() != 3)) return false;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    const Tensor& b = g.values[size_t(n.inputs[2])].constant;
    if (!b.defined() || b.dtype() != DType::f32 || b.numel() != w.dim(0)) return false;
  }
  return true;
}

// MatMuls pareto quantizes (with quantize_matmul): a float A (its rank
// may be known only at run time) times a constant float [k, n].
bool quantizable_matmul(const ir::Graph& g, const ir::Node& n) {
  if (n.op_type != "MatMul" || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.size() != 2 || n.inputs[0] < 0 || n.inputs[1] < 0)
    return false;
  const Tensor& b = g.values[size_t(n.inputs[1])].constant;
  const ir::Value& a = g.values[size_t(n.inputs[0])];
  if (!b.defined() || b.dtype() != DType::f32 || b.rank() != 2 || a.constant.defined()) return false;
  if (b.dim(0) <= 0 || b.dim(1) <= 0 || b.dim(0) > kernels::kMaxInt8ConvK) return false;  // what the int8 kernel takes
  return a.type.dtype == DType::f32 || a.type.dtype == DType::undefined;
}

// A layer with learned weights: ONNX Conv, ConvTranspose, Gemm, MatMul or
// a recurrent layer with a constant operand of rank >= 2.
bool weighted_layer(const ir::Graph& g, const ir::Node& n) {
  static const std::set<std::string> kWeighted = {"Conv", "ConvTranspose", "Gemm", "MatMul", "LSTM", "GRU", "RNN"};
  if (!(n.domain.empty() || n.domain == "ai.onnx") || !kWeighted.count(n.op_type)) return false;
  for (size_t i = 0; i < n.inputs.size() && i < 2; ++i)
    if (n.inputs[i] >= 0 && g.values[size_t(n.inputs[i])].constant.defined() && g.values[size_t(n.inputs[i])].constant.rank() >= 2) return true;
  return false;
}

// For each node: whether a weighted layer reads what it computes, directly
// or through other nodes (a subgraph's implicit reads count). A conv
// nothing weighted follows is an output layer (each head of a multi-head
// network has its own).
std::vector<bool> feeds_weighted_layer(const ir::Graph& g) {
  std::vector<std::vector<int>> readers(g.values.size());
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    std::vector<int> reads = g.nodes[ni].inputs;
    const std::vector<int> implicit = g.implicit_inputs(g.nodes[ni]);
    reads.insert(reads.end(), implicit.begin(), implicit.end());
    for (int v : reads)
      if (v >= 0) readers[size_t(v)].push_back(int(ni));
  }
  std::vector<bool> feeds(g.nodes.size(), false);
  const std::vector<int> order = g.topological_order();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {  // readers first
    for (int v : g.nodes[size_t(*it)].outputs)
      if (v >= 0)
        for (int r : readers[size_t(v)])
          if (weighted_layer(g, g.nodes[size_t(r)]) || feeds[size_t(r)]) feeds[size_t(*it)] = true;
  }
  return feeds;
}

int add_value(ir::Graph& g, const std::string& hint, DType dtype, const Shape& dims, bool rank_known) {
  const int id = g.add_value(g.unique_name(hint));
  ir::ValueType& t = g.values[size_t(id)].type;
  t.dtype = dtype;
  t.rank_known = rank_known;
  t.dims = dims;
  return id;
}

void add_node(ir::Graph& g, const std::string& op, const std::string& name, std::vector<int> ins, int out, int64_t axis = -1) {
  ir::Node n;
  n.op_type = op;
  n.name = g.unique_name(name);
  n.inputs = std::move(ins);
  n.outputs = {out};
  if (axis >= 0) n.set_attr(ir::attr_int("axis", axis));
  g.values[size_t(out)].producer = int(g.nodes.size());
  g.nodes.push_back(std::move(n));
}

// C of a Gemm that an Add after the MatMul gives the same: a scalar, [N],
// [1], [1, N] or [1, 1] (Add broadcasts those to [M, N] as Gemm does).
bool row_broadcast_bias(const Tensor& c, int64_t n) {
  if (c.rank() > 2 || (c.rank() == 2 && c.dim(0) != 1)) return false;
  return c.numel() == 1 || (c.rank() >= 1 && c.dim(c.rank() - 1) == n);
}

// Each Gemm by a constant B, as MatMul (+ Add of its C): the form the int8
// MatMul quantizes (a classifier's fully connected layers come as Gemm).
// Taken: transA = 0, B a constant 2-D float, C absent or a constant float
// bias along N; alpha and beta are folded into B and C, transB into B's
// layout (B' = alpha * B^T, [K, N]). Others stay Gemm (and float).
// Returns how many were rewritten.
int gemms_as_matmuls(ir::Graph& g) {
  int count = 0;
  const size_t nodes = g.nodes.size();  // add_node appends: the loop sees only the original nodes
  for (size_t ni = 0; ni < nodes; ++ni) {
    const ir::Node& n = g.nodes[ni];
    if (n.op_type != "Gemm" || !(n.domain.empty() || n.domain == "ai.onnx") || n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0 ||
        n.outputs.size() != 1 || n.outputs[0] < 0 || n.attr_i("transA", 0) != 0)
      continue;
    const Tensor b = g.values[size_t(n.inputs[1])].constant;
    const ir::Value& a_value = g.values[size_t(n.inputs[0])];
    if (!b.defined() || b.dtype() != DType::f32 || b.rank() != 2 || a_value.constant.defined()) continue;
    // Gemm takes a 2-D A only; a MatMul would run a malformed one of another rank.
    if (a_value.type.rank_known && a_value.type.dims.size() != 2) continue;
    const bool trans_b = n.attr_i("transB", 0) != 0;
    const float alpha = n.attr_f("alpha", 1.f), beta = n.attr_f("beta", 1.f);
    const int64_t k = trans_b ? b.dim(1) : b.dim(0), cols = trans_b ? b.dim(0) : b.dim(1);
    Tensor c;
    if (n.inputs.size() > 2 && n.inputs[2] >= 0 && beta != 0.f) {
      c = g.values[size_t(n.inputs[2])].constant;
      if (!c.defined() || c.dtype() != DType::f32 || !row_broadcast_bias(c, cols)) continue;
    }
    Tensor bt = Tensor::empty(DType::f32, {k, cols});
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < cols; ++j) bt.data<float>()[i * cols + j] = alpha * (trans_b ? b.data<float>()[j * k + i] : b.data<float>()[i * cols + j]);
    const std::string name = n.name, wname = g.values[size_t(n.inputs[1])].name;
    const int a = n.inputs[0], out = n.outputs[0];
    const int w = g.add_constant(wname + "_matmul", std::move(bt));
    ir::Node& mm = g.nodes[ni];
    mm.op_type = "MatMul";
    mm.domain.clear();
    mm.attrs.clear();
    mm.inputs = {a, w};
    if (c.defined()) {
      Tensor cb = Tensor::empty(DType::f32, c.shape());
      for (int64_t i = 0; i < c.numel(); ++i) cb.data<float>()[i] = beta * c.data<float>()[i];
      const int bias = g.add_constant(wname + "_bias", std::move(cb));
      const ir::ValueType t = g.values[size_t(out)].type;  // a copy: add_value may move g.values
      const int product = add_value(g, g.values[size_t(out)].name + "_matmul", DType::f32, t.dims, t.rank_known);
      g.nodes[ni].outputs = {product};
      g.values[size_t(product)].producer = int(ni);
      add_node(g, "Add", name + "_bias", {product, bias}, out);
    }
    ++count;
  }
  return count;
}

struct ActParams {
  float scale = 1;
  uint8_t zero = 0;
};

// T -> QuantizeLinear -> DequantizeLinear -> the readers of T listed in
// `readers` (node indices; empty: every reader). Returns the quantized
// (uint8) value.
int quantize_activation(ir::Graph& g, int t, const ActParams& q, const std::set<int>& readers) {
  const ir::Value v = g.values[size_t(t)];
  const int s = g.add_constant(v.name + "_scale", Tensor::scalar<float>(q.scale));
  const int z = g.add_constant(v.name + "_zero_point", Tensor::scalar<uint8_t>(q.zero));
  const int tq = add_value(g, v.name + "_quantized", DType::u8, v.type.dims, v.type.rank_known);
  const int tdq = add_value(g, v.name + "_dequantized", DType::f32, v.type.dims, v.type.rank_known);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (readers.empty() || readers.count(int(ni)))
      for (int& in : g.nodes[ni].inputs)
        if (in == t) in = tdq;
  add_node(g, "QuantizeLinear", v.name + "_QuantizeLinear", {t, s, z}, tq);
  add_node(g, "DequantizeLinear", v.name + "_DequantizeLinear", {tq, s, z}, tdq);
  return tq;
}

// The same with the scale and zero point found per run from T's own range
// (DynamicQuantizeLinear: the range stretched to include 0, uint8).
int quantize_activation_dynamic(ir::Graph& g, int t, const std::set<int>& readers) {
  const ir::Value v = g.values[size_t(t)];
  const int tq = add_value(g, v.name + "_quantized", DType::u8, v.type.dims, v.type.rank_known);
  const int s = add_value(g, v.name + "_scale", DType::f32, {}, true);
  const int z = add_value(g, v.name + "_zero_point", DType::u8, {}, true);
  const int tdq = add_value(g, v.name + "_dequantized", DType::f32, v.type.dims, v.type.rank_known);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni)
    if (readers.empty() || readers.count(int(ni)))
      for (int& in : g.nodes[ni].inputs)
        if (in == t) in = tdq;
  ir::Node dq;
  dq.op_type = "DynamicQuantizeLinear";
  dq.name = g.unique_name(v.name + "_DynamicQuantizeLinear");
  dq.inputs = {t};
  dq.outputs = {tq, s, z};
  for (int o : dq.outputs) g.values[size_t(o)].producer = int(g.nodes.size());
  g.nodes.push_back(std::move(dq));
  add_node(g, "DequantizeLinear", v.name + "_DequantizeLinear", {tq, s, z}, tdq);
  return tq;
}

// Weights to int8 per output channel (and, with a static x_scale, the bias
// to int32 with the matching scale), each behind a DequantizeLinear on
// axis 0. x_scale 0 (dynamic activations): the bias stays float. codes:
// chosen elsewhere (GPTQ), or null to round to nearest.
void quantize_conv_weights(ir::Graph& g, ir::Node& conv_node, int conv_index, float x_scale, const std::vector<int8_t>* codes) {
  const int wi = conv_node.inputs[1];
  const Tensor w = g.values[size_t(wi)].constant;
  const std::string wname = g.values[size_t(wi)].name;
  const int64_t oc = w.dim(0), per = w.numel() / std::max<int64_t>(oc, 1);
  const float* wf = w.data<float>();
  const std::vector<float> scales = symmetric_row_scales(wf, oc, per);
  Tensor wq = Tensor::empty(DType::i8, w.shape());
  int8_t* q = wq.data<int8_t>();
  if (codes && int64_t(codes->size()) != oc * per) fail(StatusCode::internal, conv_node.label() + ": GPTQ codes of another weight size");
  if (codes) std::copy(codes->begin(), codes->end(), q);
  else
    for (int64_t i = 0; i < oc * per; ++i) q[i] = symmetric_code(wf[i], scales[size_t(i / per)]);
  const int wq_id = g.add_constant(wname + "_quantized", std::move(wq));
  const int ws_id = g.add_constant(wname + "_scale", Tensor::from_vector<float>(scales, {oc}));
  const int wz_id = g.add_constant(wname + "_zero_point", Tensor::zeros(DType::i8, {oc}));
  const int wdq = add_value(g, wname + "_dequantized", DType::f32, w.shape(), true);
  add_node(g, "DequantizeLinear", wname + "_DequantizeLinear", {wq_id, ws_id, wz_id}, wdq, 0);
  ir::Node& conv = g.nodes[size_t(conv_index)];  // add_node may have moved the node vector
  conv.inputs[1] = wdq;
  if (x_scale > 0 && conv.inputs.size() > 2 && conv.inputs[2] >= 0) {
    const int bi = conv.inputs[2];
    const Tensor b = g.values[size_t(bi)].constant;
    const std::string bname = g.values[size_t(bi)].name;
    std::vector<int32_t> bq(static_cast<size_t>(oc));
    std::vector<float> bs(static_cast<size_t>(oc));
    for (int64_t c = 0; c < oc; ++c) {
      bs[size_t(c)] = x_scale * scales[size_t(c)];
      const double v = std::nearbyint(double(b.data<float>()[c]) / double(bs[size_t(c)]));
      bq[size_t(c)] = std::isnan(v) ? 0 : int32_t(std::clamp(v, double(INT32_MIN), double(INT32_MAX)));
    }
    const int bq_id = g.add_constant(bname + "_quantized", Tensor::from_vector<int32_t>(bq, {oc}));
    const int bs_id = g.add_constant(bname + "_scale", Tensor::from_vector<float>(bs, {oc}));
    const int bz_id = g.add_constant(bname + "_zero_point", Tensor::zeros(DType::i32, {oc}));
    const int bdq = add_value(g, bname + "_dequantized", DType::f32, {oc}, true);
    add_node(g, "DequantizeLinear", bname + "_DequantizeLinear", {bq_id, bs_id, bz_id}, bdq, 0);
    g.nodes[size_t(conv_index)].inputs[2] = bdq;
  }
}

// A MatMul's B [k, n] to int8 per column (DequantizeLinear axis 1, the
// layout ONNX Runtime's quantizer writes for MatMul weights): each column
// is an output channel.
void quantize_matmul_weights(ir::Graph& g, int node_index, const std::vector<int8_t>* codes) {
  const int bi = g.nodes[size_t(node_index)].inputs[1];
  const Tensor b = g.values[size_t(bi)].constant;
  const std::string bname = g.values[size_t(bi)].name;
  const int64_t k = b.dim(0), n = b.dim(1);
  const float* bf = b.data<float>();
  std::vector<float> scales(static_cast<size_t>(n), 0.f);
  for (int64_t i = 0; i < k * n; ++i) scales[size_t(i % n)] = std::max(scales[size_t(i % n)], std::abs(bf[i]));
  for (float& s : scales) s = symmetric_scale(s);
  Tensor bq = Tensor::empty(DType::i8, b.shape());
  if (codes && int64_t(codes->size()) != k * n) fail(StatusCode::internal, g.nodes[size_t(node_index)].label() + ": GPTQ codes of another weight size");
  if (codes) std::copy(codes->begin(), codes->end(), bq.data<int8_t>());
  else
    for (int64_t i = 0; i < k * n; ++i) bq.data<int8_t>()[i] = symmetric_code(bf[i], scales[size_t(i % n)]);
  const int q_id = g.add_constant(bname + "_quantized", std::move(bq));
  const int s_id = g.add_constant(bname + "_scale", Tensor::from_vector<float>(scales, {n}));
  const int z_id = g.add_constant(bname + "_zero_point", Tensor::zeros(DType::i8, {n}));
  const int dq = add_value(g, bname + "_dequantized", DType::f32, b.shape(), true);
  add_node(g, "DequantizeLinear", bname + "_DequantizeLinear", {q_id, s_id, z_id}, dq, 1);
  g.nodes[size_t(node_index)].inputs[1] = dq;  // add_node may have moved the node vector
}

// Static types for values the file left untyped (the opset rewrite needs
// the ranks of softmax inputs): shape inference first, and for what it
// cannot resolve (shapes computed at run time), one run of sample 0.
void fill_static_types(ir::Model& m, const InputSample& sample) {
  ir::Graph& g = *m.graph;
  std::map<std::string, Shape> bound;
  for (size_t i = 0; i < g.inputs.size() && i < sample.size(); ++i) bound[g.values[size_t(g.inputs[i])].name] = sample[i].shape();
  const runtime::StaticInfo info = runtime::infer_static(g, m.opset(), bound);
  // Ranks and types only: sizes inferred from sample 0 would be written into
  // the model's declarations, and other engines would then fold shapes
  // computed for that one input size.
  for (size_t i = 0; i < g.values.size() && i < info.types.size(); ++i)
    if (!g.values[i].type.rank_known && info.types[i].rank_known) {
      g.values[i].type.dtype = info.types[i].dtype;
      g.values[i].type.rank_known = true;
      g.values[i].type.dims.assign(info.types[i].dims.size(), -1);
      g.values[i].type.dim_params.clear();
    }
  std::vector<int> unknown;
  for (const ir::Node& n : g.nodes)
    if ((n.op_type == "Softmax" || n.op_type == "LogSoftmax" || n.op_type == "Hardmax") && !n.inputs.empty() && n.inputs[0] >= 0 &&
        !g.values[size_t(n.inputs[0])].type.rank_known)
      unknown.push_back(n.inputs[0]);
  if (unknown.empty()) return;
  ir::Model probe = clone_model(m);
  const size_t first = probe.graph->outputs.size();
  for (int v : unknown) probe.graph->outputs.push_back(v);
  const std::vector<Tensor> outs = run_model(probe, sample);
  for (size_t k = 0; k < unknown.size(); ++k) {
    ir::ValueType& t = g.values[size_t(unknown[k])].type;
    t.dtype = outs[first + k].dtype();
    t.rank_known = true;
    t.dims.assign(size_t(outs[first + k].rank()), -1);  // the rank only: sizes vary per input
  }
}

// The model with convs `chosen` (node indices) quantized.
// expose: every QuantizeLinear output becomes a graph output too (to compare
// engines tensor by tensor).
// dynamic: activations rounded per run (act unused).
// codes: weights chosen by GPTQ, by node index (others round to nearest).
using LayerCodes = std::map<int, std::vector<int8_t>>;
ir::Model rewrite(const ir::Model& float_model, const std::vector<int>& chosen, const std::map<int, ActParams>& act, const LayerCodes& codes,
                  bool quantize_outputs, bool dynamic, bool expose = false) {
  ir::Model m = clone_model(float_model);
  ir::Graph& g = *m.graph;
  onnx::upgrade_to_opset13(m);
  // By default each quantized conv's input is quantized for that conv
  // only: a float reader of the same tensor (a depthwise conv beside a
  // quantized 1x1) keeps the exact values, and the Q/DQ pair folds into
  // the int8 convs instead of running on its own for it. With
  // quantize_outputs every quantized tensor is rounded for all its readers,
  // the QOperator-like form other engines fuse (and in which two engines
  // agree best: a squeeze-excite pool of the rounded tensor sums the same
  // integers in both, where one of the float tensor would flip a gate step
  // and move a whole channel).
  std::map<int, std::set<int>> tensors;  // tensor -> the readers to rewire (empty: all)
  for (int ni : chosen) {
    tensors[g.nodes[size_t(ni)].inputs[0]].insert(ni);
    if (quantize_outputs) tensors[g.nodes[size_t(ni)].outputs[0]];
  }
  if (quantize_outputs)
    for (auto& [t, readers] : tensors) readers.clear();
  for (int ni : chosen) {
    auto it = codes.find(ni);
    const std::vector<int8_t>* c = it == codes.end() ? nullptr : &it->second;
    if (g.nodes[size_t(ni)].op_type == "MatMul") quantize_matmul_weights(g, ni, c);
    else quantize_conv_weights(g, g.nodes[size_t(ni)], ni, dynamic ? 0.f : act.at(g.nodes[size_t(ni)].inputs[0]).scale, c);
  }
  for (const auto& [t, readers] : tensors) {
    const int tq = dynamic ? quantize_activation_dynamic(g, t, readers) : quantize_activation(g, t, act.at(t), readers);
    if (expose) g.outputs.push_back(tq);
  }
  return m;
}

// The GPTQ layers' int8 codes (quant/layer_gptq.h), each layer's report
// saying how its weights were rounded.
LayerCodes gptq_codes(const ir::Model& base, const std::vector<InputSample>& samples, const std::vector<int>& chosen,
                      const std::map<int, ActParams>& act, const OnnxQuantOptions& o, std::map<int, LayerHessian>& layers,
                      std::vector<LayerReport>& reports, const std::vector<int>& convs) {
  const ir::Graph& g = *base.graph;
  // The noise on each layer's input in the model rounded to nearest (the
  // tensor ids are the float model's in both: the rewrite only adds values).
  std::vector<int> inputs;
  std::map<int, UInt8Grid> grids;
  for (const auto& [ni, h] : layers)
    if (h.unsupported().empty()) {
      const int t = g.nodes[size_t(ni)].inputs[0];
      inputs.push_back(t);
      if (act.count(t)) grids[t] = {act.at(t).scale, act.at(t).zero};
    }
  const std::map<int, double> noise =
      inputs.empty() ? std::map<int, double>{} : input_noise_variance(base, rewrite(base, chosen, act, {}, o.quantize_outputs, o.dynamic), inputs, grids, samples);
  LayerCodes codes;
  for (auto& [ni, h] : layers) {
    LayerReport& lr = reports[size_t(std::find(convs.begin(), convs.end(), ni) - convs.begin())];
    if (!h.unsupported().empty()) {
      lr.weights = "nearest (" + h.unsupported() + ")";
      continue;
    }
    h.shrink_to_diagonal();
    h.add_input_noise(noise.at(g.nodes[size_t(ni)].inputs[0]), h.rows_seen());
    const Tensor& w = g.values[size_t(g.nodes[size_t(ni)].inputs[1])].constant;
    std::vector<int8_t> c(size_t(w.numel()));
    const bool served = g.nodes[size_t(ni)].op_type == "MatMul" ? matmul_gptq_codes(w, h, c.data()) : conv_gptq_codes(w, h, c.data());
    lr.weights = served             ? "gptq (" + std::to_string(h.rows_seen()) + " rows of " + std::to_string(h.cols()) + " inputs)"
                 : h.rows_seen() ? "nearest (GPTQ's factorization failed)"
                                 : "nearest (no input rows in the calibration)";
    codes.emplace(ni, std::move(c));
  }
  return codes;
}

}  // namespace

std::vector<Tensor> run_model(const ir::Model& m, const InputSample& in) {
  runtime::ExecOptions o;
  o.threads = num_threads();
  runtime::Executor ex(m.opset(), o);
  return ex.run_graph(*m.graph, in, nullptr);
}

double relative_error(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  double num = 0, den = 0;
  if (got.size() != want.size()) fail_model("quantized model has " + std::to_string(got.size()) + " outputs, the float model " + std::to_string(want.size()));
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].numel() != want[i].numel()) fail_model("output " + std::to_string(i) + " changed size under quantization");
    for (int64_t k = 0; k < got[i].numel(); ++k) {  // any numeric type (a classifier's int64 labels count too)
      const double a = got[i].as_double(k), b = want[i].as_double(k);
      num += (a - b) * (a - b);
      den += b * b;
    }
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

ir::Model quantize_onnx(const ir::Model& float_model, const std::vector<InputSample>& samples, const OnnxQuantOptions& options,
                        OnnxQuantReport* report) {
  if (samples.empty()) fail_argument("quantization needs at least one calibration sample");
  ThreadPool pool(std::max(1, options.threads));
  PoolScope scope(&pool);
  ir::Model base = clone_model(float_model);
  fill_static_types(base, samples[0]);
  ir::Graph& g = *base.graph;
  OnnxQuantReport rep;
  if (options.quantize_matmul) rep.gemms_as_matmuls = gemms_as_matmuls(g);
  rep.samples = int(samples.size());
  rep.method = options.method;

  // Which convs: every quantizable one, minus the kept ones.
  // "Last" means an output layer: a conv that no weighted layer follows.
  // One followed by a ConvTranspose or a fully-connected head (which stay
  // float anyway) is not (PP-OCR det's last conv is followed by two
  // ConvTransposes; keeping it float cost 1.6 ms and no CER).
  std::vector<int> convs;  // the layers: convs, and MatMuls with quantize_matmul
  for (int ni : g.topological_order())
    if (quantizable_conv(g, g.nodes[size_t(ni)]) || (options.quantize_matmul && quantizable_matmul(g, g.nodes[size_t(ni)]))) convs.push_back(ni);
  const std::vector<bool> feeds_weighted = feeds_weighted_layer(g);
  if (convs.empty()) fail_unsupported(options.quantize_matmul ? "no convolution or MatMul with constant float weights to quantize"
                                                              : "no convolution with constant float weights to quantize");
  std::vector<int> chosen;
  for (size_t k = 0; k < convs.size(); ++k) {
    const ir::Node& n = g.nodes[size_t(convs[k])];
    LayerReport lr;
    lr.node = n.name;
    lr.output = g.values[size_t(n.outputs[0])].name;
    lr.end_layer = k == 0 || !feeds_weighted[size_t(convs[k])];
    if (options.keep_first_last && lr.end_layer) lr.kept_because = k == 0 ? (n.op_type == "MatMul" ? "first layer" : "first conv") : "last layer";
    if (!options.quantize_depthwise && n.attr_i("group", 1) != 1) lr.kept_because = "grouped";
    // Per-run ranges fold into the int8 kernel for group-1 convs only
    // (passes/fold_qdq.cpp): elsewhere the two extra nodes would run in float.
    if (options.dynamic && (n.attr_i("group", 1) != 1 || n.op_type == "MatMul")) lr.kept_because = "dynamic: no int8 kernel";
    for (const std::string& keep : options.keep)
      if (keep == lr.node || keep == lr.output) lr.kept_because = "--keep";
    lr.quantized = lr.kept_because.empty();
    if (lr.quantized) chosen.push_back(convs[k]);
    rep.layers.push_back(lr);
  }

  // Calibration: the tensors around the chosen convs (those the cache does
  // not know) become extra outputs.
  std::vector<int> observed, to_observe;
  for (int ni : options.dynamic ? std::vector<int>{} : chosen)
    for (int t : {g.nodes[size_t(ni)].inputs[0], options.quantize_outputs ? g.nodes[size_t(ni)].outputs[0] : -1})
      if (t >= 0 && std::find(observed.begin(), observed.end(), t) == observed.end()) {
        observed.push_back(t);
        if (!options.ranges || !options.ranges->lo_hi.count(g.values[size_t(t)].name)) to_observe.push_back(t);
      }
  if (options.ranges) {
    char key[96];
    std::snprintf(key, sizeof key, "%s|%.17g", calib_method_name(options.method), options.percentile);
    if (options.ranges->key.empty()) options.ranges->key = key;
    if (options.ranges->key != key) fail(StatusCode::internal, "a range cache of " + options.ranges->key + " used for " + key);
  }
  // GPTQ: each chosen layer's input rows, sampled on the first pass. Every
  // layer's H is held until the last sample: at most kGptqBytes in all
  // (later layers past it keep rounding to nearest, and say so).
  constexpr double kGptqBytes = double(int64_t(2) << 30);
  std::map<int, LayerHessian> hessians;  // by node index
  std::vector<int> extra = to_observe;   // the probe's added outputs
  double held = 0;
  if (options.gptq)
    for (int ni : chosen) {
      const ir::Node& n = g.nodes[size_t(ni)];
      if (options.ranges && options.ranges->gptq_codes.count(g.values[size_t(n.outputs[0])].name)) continue;  // rounded by an earlier candidate
      const Tensor& w = g.values[size_t(n.inputs[1])].constant;
      LayerHessian h = n.op_type == "MatMul" ? LayerHessian::for_matmul(w.dim(0)) : LayerHessian::for_conv(n, w.shape());
      if (h.unsupported().empty() && held + h.bytes() > kGptqBytes) h.set_unsupported("GPTQ's 2 GiB of Hessians already taken by earlier layers");
      if (h.unsupported().empty()) held += h.bytes();
      if (h.unsupported().empty() && std::find(extra.begin(), extra.end(), n.inputs[0]) == extra.end()) extra.push_back(n.inputs[0]);
      hessians.emplace(ni, std::move(h));
    }
  const int64_t rows_per_sample = std::max<int64_t>(64, (options.gptq_rows + int64_t(samples.size()) - 1) / int64_t(samples.size()));
  std::map<int, RangeObserver> observers;
  std::vector<std::vector<Tensor>> float_outputs;
  if (!extra.empty() || options.measure_error || options.sensitivity) {
    ir::Model probe = clone_model(base);
    const size_t first_extra = probe.graph->outputs.size();
    for (int t : extra) probe.graph->outputs.push_back(t);
    for (int pass = 0; pass < (to_observe.empty() ? 1 : 2); ++pass)
      for (size_t si = 0; si < samples.size(); ++si) {
        std::vector<Tensor> outs = run_model(probe, samples[si]);
        for (size_t k = 0; k < to_observe.size(); ++k) {
          const Tensor& t = outs[first_extra + k];
          if (t.dtype() != DType::f32) continue;
          RangeObserver& o = observers[to_observe[k]];
          if (pass == 0) o.observe_extremes(t.data<float>(), t.numel());
          else o.observe_histogram(t.data<float>(), t.numel());
        }
        if (pass == 0)
          for (auto& [ni, h] : hessians) {
            if (!h.unsupported().empty()) continue;
            const size_t k = size_t(std::find(extra.begin(), extra.end(), g.nodes[size_t(ni)].inputs[0]) - extra.begin());
            h.add(outs[first_extra + k], rows_per_sample, uint64_t(ni) * 1000003u + si);
          }
        if (pass == 0) float_outputs.emplace_back(outs.begin(), outs.begin() + long(first_extra));
      }
  }
  // The reference is the model as given: with Gemms rewritten, base computes
  // the same function in another rounding order, and a wrong fold would
  // hide in it.
  if (rep.gemms_as_matmuls > 0)
    for (size_t si = 0; si < float_outputs.size(); ++si) float_outputs[si] = run_model(float_model, samples[si]);
  std::map<int, ActParams> act;
  for (int t : observed) {
    const std::string& name = g.values[size_t(t)].name;
    std::pair<float, float> lo_hi;
    if (options.ranges && options.ranges->lo_hi.count(name)) {
      lo_hi = options.ranges->lo_hi.at(name);
    } else {
      observers[t].range(options.method, options.percentile, &lo_hi.first, &lo_hi.second);
      if (options.ranges) options.ranges->lo_hi[name] = lo_hi;
    }
    uint8_params(lo_hi.first, lo_hi.second, &act[t].scale, &act[t].zero);
  }
  for (LayerReport& lr : rep.layers) {
    const ir::Node& n = g.nodes[size_t(g.values[size_t(g.find_value(lr.output))].producer)];
    for (int side = 0; side < 2; ++side) {
      const int t = side == 0 ? n.inputs[0] : n.outputs[0];
      auto it = act.find(t);
      if (it == act.end()) continue;
      const float lo = -float(it->second.zero) * it->second.scale, hi = lo + 255.f * it->second.scale;
      (side == 0 ? lr.in_lo : lr.out_lo) = lo;
      (side == 0 ? lr.in_hi : lr.out_hi) = hi;
    }
  }

  LayerCodes codes = gptq_codes(base, samples, chosen, act, options, hessians, rep.layers, convs);
  if (options.gptq && options.ranges)  // layers rounded here join the cache; the others come from it
    for (int ni : chosen) {
      LayerReport& lr = rep.layers[size_t(std::find(convs.begin(), convs.end(), ni) - convs.begin())];
      auto it = codes.find(ni);
      const auto& [c, how] = options.ranges->gptq_codes.emplace(lr.output, std::make_pair(it != codes.end() ? it->second : std::vector<int8_t>{}, lr.weights)).first->second;
      lr.weights = how;
      if (!c.empty()) codes[ni] = c;
    }
  ir::Model quantized = rewrite(base, chosen, act, codes, options.quantize_outputs, options.dynamic);
  if (options.measure_error) {
    double err = 0;
    for (size_t i = 0; i < samples.size(); ++i) err += relative_error(run_model(quantized, samples[i]), float_outputs[i]);
    rep.output_error = err / double(samples.size());
  }
  if (options.sensitivity)
    for (LayerReport& lr : rep.layers) {
      if (!lr.quantized) continue;
      const int ni = g.values[size_t(g.find_value(lr.output))].producer;
      const ir::Model one = rewrite(base, {ni}, act, codes, options.quantize_outputs, options.dynamic);
      double e = 0;
      for (size_t i = 0; i < samples.size(); ++i) e += relative_error(run_model(one, samples[i]), float_outputs[i]);
      lr.sensitivity = e / double(samples.size());
    }
  if (report) *report = rep;
  // The report is measured on the model as shipped; the exposed copy only adds outputs.
  return options.expose_quantized ? rewrite(base, chosen, act, codes, options.quantize_outputs, options.dynamic, true) : quantized;
}

}  // namespace pareto::quant
