#include "profile/onnx_cost.h"

#include <map>

namespace pareto::profile {

uint64_t OpCost::bytes(AccessKind kind, bool write) const {
  uint64_t n = 0;
  for (const Access& a : accesses)
    if (a.kind == kind && a.write == write) n += a.bytes;
  return n;
}

namespace {

using runtime::TensorUse;

uint64_t elements(const TensorUse& t) {
  uint64_t n = 1;
  for (int64_t d : t.shape) n *= uint64_t(d > 0 ? d : 0);
  return n;
}

// Where the multiply-add inputs sit, per op kind: {activation, weight}.
struct MacOperands {
  int x = -1, w = -1;
};

MacOperands mac_operands(const std::string& op) {
  if (op == "Conv" || op == "FusedConv" || op == "ConvInteger" || op == "ConvTranspose" || op == "FusedConvTranspose" ||
      op == "MatMul" || op == "FusedMatMul" || op == "MatMulInteger" || op == "Gemm" || op == "FusedGemm")
    return {0, 1};
  if (op == "QLinearConv" || op == "QLinearMatMul") return {0, 3};
  return {};
}

// Multiply-adds of the ops built on products; 0 for the rest.
uint64_t count_macs(const ir::Node& n, const std::vector<TensorUse>& in, const std::vector<TensorUse>& out) {
  const std::string& op = n.op_type;
  // Two transposed convs (x, w_a, b_a, w_b, b_b): each input element of
  // either takes its weights' slice for one input channel.
  if (op == "FusedConvTransposePair" && in.size() > 3 && in[0].present && in[1].present && in[3].present) {
    const TensorUse &x = in[0], &wa = in[1], &wb = in[3];
    if (x.shape.size() != 4 || wa.shape.size() != 4 || wb.shape.size() != 4 || x.shape[1] <= 0 || wb.shape[0] <= 0) return 0;
    const uint64_t mid = elements(x) / uint64_t(x.shape[1]) * uint64_t(wb.shape[0]) * 4;  // [N, Ca, 2H, 2W]
    return elements(x) * (elements(wa) / uint64_t(x.shape[1])) + mid * (elements(wb) / uint64_t(wb.shape[0]));
  }
  const MacOperands m = mac_operands(op);
  if (m.w >= 0 && size_t(m.w) < in.size() && in[size_t(m.w)].present && !out.empty() && out[0].present) {
    const TensorUse &x = in[size_t(m.x)], &w = in[size_t(m.w)], &y = out[0];
    if (op.find("Conv") != std::string::npos) {
      // Each output (or, transposed, each input) element takes one weight
      // slice of w.size / channels products, whatever the grouping.
      if (w.shape.empty() || w.shape[0] <= 0) return 0;
      if (op == "ConvTranspose" || op == "FusedConvTranspose") return x.shape.size() > 1 && x.shape[1] > 0 ? elements(x) * (elements(w) / uint64_t(x.shape[1])) : 0;
      return elements(y) * (elements(w) / uint64_t(w.shape[0]));
    }
    if (op == "Gemm" || op == "FusedGemm") {
      const uint64_t rows = y.shape.size() == 2 ? uint64_t(y.shape[0]) : 0;
      return rows ? elements(y) * (elements(x) / rows) : 0;
    }
    return x.shape.empty() ? 0 : elements(y) * uint64_t(x.shape.back());  // MatMul: K is A's last axis
  }
  if ((op == "LSTM" || op == "GRU" || op == "RNN") && in.size() > 2 && in[0].shape.size() == 3) {
    // Every step of every sequence multiplies x by W and the state by R (both directions included in W, R).
    return uint64_t(in[0].shape[0]) * uint64_t(in[0].shape[1]) * (elements(in[1]) + elements(in[2]));
  }
  return 0;
}

// Ops that only move or reinterpret data: bytes, no arithmetic.
bool moves_only(const std::string& op) {
  static const char* const kinds[] = {"Reshape", "Transpose", "Concat", "Slice", "Split", "Gather", "GatherElements", "GatherND",
                                      "Squeeze", "Unsqueeze", "Flatten", "Identity", "Expand", "Tile", "Pad", "Shape", "Size",
                                      "Cast", "CastLike", "DepthToSpace", "SpaceToDepth", "Dropout", "ConstantOfShape", "Compress",
                                      "Scatter", "ScatterElements", "ScatterND", "Trilu", "EyeLike", "Range", "NonZero", "OneHot",
                                      "If", "Loop"};
  for (const char* k : kinds)
    if (op == k) return true;
  return false;
}

// Arithmetic per element of the ops that are not products: passes over the
// data (Softmax: max, exp and sum, divide).
uint64_t count_elementwise(const ir::Node& n, const std::vector<TensorUse>& in, const std::vector<TensorUse>& out) {
  const std::string& op = n.op_type;
  if (moves_only(op) || out.empty() || !out[0].present) return 0;
  const uint64_t out_n = elements(out[0]);
  const uint64_t in_n = in.empty() || !in[0].present ? 0 : elements(in[0]);
  static const std::map<std::string, uint64_t> passes = {
      {"Softmax", 3}, {"LogSoftmax", 3}, {"LayerNormalization", 4}, {"RMSNormalization", 3}, {"InstanceNormalization", 4},
      {"BatchNormalization", 2}, {"FusedAdd", 2}, {"FusedSqueezeExcite", 2}, {"MeanVarianceNormalization", 4}, {"LRN", 4}};
  if (op.rfind("Reduce", 0) == 0 || op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "ArgMax" || op == "ArgMin" || op == "TopK")
    return in_n;
  if (op == "MaxPool" || op == "AveragePool") {
    uint64_t window = 1;
    for (int64_t k : n.attr_ints("kernel_shape")) window *= uint64_t(k > 0 ? k : 1);
    return out_n * window;
  }
  if (mac_operands(op).w >= 0 || op == "LSTM" || op == "GRU" || op == "RNN") return 0;
  auto it = passes.find(op);
  return out_n * (it == passes.end() ? 1 : it->second);
}

std::string mac_precision(const ir::Node& n, const std::vector<TensorUse>& in, const std::string& path) {
  const std::string& op = n.op_type;
  if (path == "int8" || path == "bf16") return path;
  if (path == "int8 -> u8") return "int8";
  // Depthwise convs reading or writing uint8 compute in float on the planes.
  if (path == "u8 -> f32" || path == "u8 -> u8" || path == "f32 -> u8") return "fp32";
  if (path == "f16") return "fp16";  // a conv marked compute="f16" that ran the FEAT_FP16 kernel
  if (path == "winograd" || path == "f32" || path == "f32 direct") return "fp32";
  if (op == "QLinearConv" || op == "QLinearMatMul" || op == "ConvInteger" || op == "MatMulInteger" || ir::int8_compute(n))
    return "int8";
  if (n.attr_s("compute", "") == "bf16") return "bf16";
  for (const TensorUse& t : in)
    if (t.present && t.dtype == DType::f16) return "fp16";
  return "fp32";
}

// Bytes the kernel reads for input i when it is a weight: a conv computing
// in int8, bf16 or f16 reads its weights packed in that type, one prepacked by
// the compiler reads the packed copy (input 4) instead of input 1.
uint64_t weight_bytes_read(const ir::Node& n, size_t i, const std::vector<TensorUse>& in, const std::string& precision,
                           const std::string& path) {
  const TensorUse& t = in[i];
  const bool conv = n.op_type == "Conv" || n.op_type == "FusedConv";
  if (conv && n.has_attr("prepacked") && i == 1 && in.size() > 4 && in[4].present) return 0;
  // An int8 conv's weights stored as codes (a compiled artifact): read as
  // codes by the int8 kernel, as the floats they decode to elsewhere.
  const bool codes = conv && i == 1 && t.dtype == DType::i8 && n.has_attr("w_scales");
  if (i != 1 || (t.dtype != DType::f32 && !codes)) return t.bytes;
  const uint64_t channels = t.shape.empty() ? 0 : uint64_t(t.shape[0]);
  const uint64_t float_bytes = codes ? elements(t) * sizeof(float) : t.bytes;
  if (path == "winograd") return float_bytes / 9 * 36;  // the 6x6 transformed 3x3 kernels, packed at run time
  if (precision == "int8" && conv) return elements(t) + channels * sizeof(float);  // int8 weights, a scale per channel
  if (precision == "int8" && n.op_type == "MatMul" && t.shape.size() == 2)  // int8 MatMul: a scale per column
    return elements(t) + uint64_t(t.shape[1]) * sizeof(float);
  if (precision == "bf16" || (precision == "fp16" && path == "f16")) return elements(t) * 2;
  return float_bytes;
}

// F(4x4, 3x3): per 4x4 output tile, 36 products per input and output
// channel pair, and transforms in and out of the 6x6 domain at about 4
// operations per transformed element (an estimate: the B and A matrices
// are small integers and fractions).
void count_winograd(const std::vector<TensorUse>& in, const std::vector<TensorUse>& out, OpCost& c) {
  const Shape& y = out[0].shape;
  const Shape& x = in[0].shape;
  if (y.size() != 4 || x.size() != 4) return;
  const uint64_t tiles = uint64_t(y[0]) * uint64_t((y[2] + 3) / 4) * uint64_t((y[3] + 3) / 4);
  const uint64_t cin = uint64_t(x[1]), cout = uint64_t(y[1]);
  c.macs = tiles * 36 * cin * cout;
  c.elementwise = tiles * 36 * (cin + cout) * 4;
}

}  // namespace

OpCost count_onnx_node(const ir::Node& node, const std::vector<TensorUse>& inputs, const std::vector<TensorUse>& outputs,
                       const std::string& path) {
  OpCost c;
  c.precision = mac_precision(node, inputs, path);
  c.macs = count_macs(node, inputs, outputs);
  c.elementwise = count_elementwise(node, inputs, outputs);
  if (path == "winograd" && !outputs.empty() && outputs[0].present && !inputs.empty() && inputs[0].present) count_winograd(inputs, outputs, c);
  if (c.macs == 0) c.precision = "fp32";
  // A view (its output is an input's buffer) moves nothing.
  auto is_view_of = [&](uintptr_t id) {
    for (const TensorUse& o : outputs)
      if (o.present && o.id == id) return true;
    return false;
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorUse& t = inputs[i];
    if (!t.present || is_view_of(t.id) || node.op_type == "Shape" || node.op_type == "Size") continue;
    const uint64_t bytes = t.constant ? weight_bytes_read(node, i, inputs, c.precision, path) : t.bytes;
    if (bytes) c.accesses.push_back({t.id, bytes, t.constant ? AccessKind::weight : AccessKind::activation, false});
  }
  for (const TensorUse& o : outputs) {
    bool view = false;
    for (const TensorUse& t : inputs) view = view || (t.present && t.id == o.id);
    if (o.present && !view && o.bytes) c.accesses.push_back({o.id, o.bytes, AccessKind::activation, true});
  }
  return c;
}

}  // namespace pareto::profile
