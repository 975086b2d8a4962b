#include "frontend/tflite/float_ops.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/tensor.h"

namespace pareto::tflite {

namespace {

// TFLite builtin codes lowered here.
enum Code : int32_t {
  kAdd = 0, kAveragePool = 1, kConcatenation = 2, kConv = 3, kDepthwise = 4, kFullyConnected = 9, kLogistic = 14, kMaxPool = 17,
  kMul = 18, kRelu = 19, kRelu6 = 21, kReshape = 22, kSoftmax = 25, kTanh = 28, kPad = 34, kTranspose = 39, kMean = 40, kSub = 41,
  kDiv = 42, kSqueeze = 43, kExp = 47, kMaximum = 55, kMinimum = 57, kNeg = 59, kExpandDims = 70, kLog = 73, kSum = 74, kSqrt = 75,
  kRsqrt = 76, kReduceMax = 82, kLeakyRelu = 98, kAbs = 101, kBatchMatMul = 126, kCast = 53, kPack = 83, kUnpack = 88, kGatherNd = 107,
};

constexpr int32_t kLowered[] = {kAdd, kAveragePool, kConcatenation, kConv, kDepthwise, kFullyConnected, kLogistic, kMaxPool, kMul,
                                kRelu, kRelu6, kReshape, kSoftmax, kTanh, kPad, kTranspose, kMean, kSub, kDiv, kSqueeze, kExp,
                                kMaximum, kMinimum, kNeg, kExpandDims, kLog, kSum, kSqrt, kRsqrt, kReduceMax, kLeakyRelu, kAbs,
                                kBatchMatMul, kCast, kPack, kUnpack, kGatherNd};
// Lowered whatever their tensors' types: they move or convert values without arithmetic on them.
constexpr int32_t kAnyType[] = {kCast, kPack, kUnpack, kGatherNd};

class Lowering {
 public:
  Lowering(ir::Graph& g, const ir::Node& tfl, const std::string& what) : g_(g), tfl_(tfl), what_(what) {}

  void run(int32_t code);

 private:
  ir::Graph& g_;
  const ir::Node& tfl_;
  const std::string& what_;
  int nodes_made_ = 0;

  [[noreturn]] void refuse(const std::string& why) const { fail_model(what_ + ": " + why); }

  int input(size_t k) const {
    if (k >= tfl_.inputs.size() || tfl_.inputs[k] < 0) refuse("input " + std::to_string(k) + " is missing");
    return tfl_.inputs[k];
  }
  int optional_input(size_t k) const { return k < tfl_.inputs.size() ? tfl_.inputs[k] : -1; }
  int output() const { return tfl_.outputs.at(0); }
  // Copies, not references: adding values below moves g_.values.
  Shape dims(int v) const { return g_.values[size_t(v)].type.dims; }

  Tensor constant(size_t k, const char* what) const {
    Tensor t = g_.values[size_t(input(k))].constant;
    if (!t.defined()) fail_unsupported(what_ + ": its " + what + " (input " + std::to_string(k) + ") is computed, not a constant");
    return t;
  }
  std::vector<int64_t> constant_ints(size_t k, const char* what) const {
    const Tensor t = constant(k, what);
    std::vector<int64_t> out(size_t(t.numel()));
    if (t.dtype() == DType::i32) for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<int32_t>()[i];
    else if (t.dtype() == DType::i64) for (size_t i = 0; i < out.size(); ++i) out[i] = t.data<int64_t>()[i];
    else refuse(std::string(what) + " must be int32 or int64");
    return out;
  }
  int rank_of_input(size_t k) const {
    const ir::Value& v = g_.values[size_t(input(k))];
    if (!v.type.rank_known) refuse("input " + std::to_string(k) + " has no declared shape");
    return int(v.type.dims.size());
  }

  int fresh(const std::string& what) { return g_.add_value(g_.unique_name(tfl_.name + "/" + what)); }
  int add_constant(const std::string& what, Tensor t) { return g_.add_constant(tfl_.name + "/" + what, std::move(t)); }
  // One ONNX node writing `out` (a fresh value when < 0); returns it.
  int node(const std::string& op, std::vector<int> inputs, int out, std::vector<ir::Attribute> attrs = {}) {
    if (out < 0) out = fresh(op);
    ir::Node n;
    n.name = tfl_.name + "/" + op + (nodes_made_ ? "_" + std::to_string(nodes_made_) : "");  // unique within the operator
    ++nodes_made_;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {out};
    n.attrs = std::move(attrs);
    g_.values[size_t(out)].producer = int(g_.nodes.size());
    g_.nodes.push_back(std::move(n));
    return out;
  }
  // The fused activation of the options on x, written to out (< 0: fresh).
  int activation(int x, int out) {
    const std::string a = tfl_.attr_s("activation", "NONE");
    if (a == "NONE") return out < 0 ? x : node("Identity", {x}, out);
    if (a == "RELU") return node("Relu", {x}, out);
    const float lo = a == "RELU6" ? 0.f : -1.f, hi = a == "RELU6" ? 6.f : 1.f;
    return node("Clip", {x, add_constant("min", Tensor::scalar<float>(lo)), add_constant("max", Tensor::scalar<float>(hi))}, out);
  }
  bool has_activation() const { return tfl_.attr_s("activation", "NONE") != "NONE"; }
  int transpose(int x, std::vector<int64_t> perm, int out) { return node("Transpose", {x}, out, {ir::attr_ints("perm", std::move(perm))}); }

  void conv(bool depthwise);
  void pool(const char* op);
  void fully_connected();
  void binary(const char* op);
  void unary(const char* op);
  void reshape();
  void pad();
  void reduce(const char* op);
  void softmax();
  void concatenation();
  void batch_matmul();
  void cast();
  void pack();
  void unpack();
  void gather_nd();
  // Data-movement operators do not requantize: every data tensor's quantization must be the first's.
  void check_same_quantization(const std::vector<std::string>& prefixes) const;
};

// A float filter in TFLite's layout ([O, KH, KW, I], or [1, KH, KW, C*M] for
// depthwise) permuted to ONNX's [O, I, KH, KW] (depthwise: [C*M, 1, KH, KW]).
Tensor filter_to_oihw(const Tensor& w, bool depthwise) {
  const int64_t o = depthwise ? w.shape()[3] : w.shape()[0], kh = w.shape()[1], kw = w.shape()[2], i = depthwise ? 1 : w.shape()[3];
  Tensor out = Tensor::empty(DType::f32, {o, i, kh, kw});
  const float* src = w.data<float>();
  float* dst = out.data<float>();
  for (int64_t a = 0; a < o; ++a)
    for (int64_t c = 0; c < i; ++c)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          dst[((a * i + c) * kh + y) * kw + x] = depthwise ? src[(y * kw + x) * o + a] : src[((a * kh + y) * kw + x) * i + c];
  return out;
}

void Lowering::conv(bool depthwise) {
  const Tensor w = constant(1, "filter");
  if (w.dtype() != DType::f32 || w.rank() != 4) refuse("the filter must be a float tensor of rank 4");
  if (rank_of_input(0) != 4) refuse("the input must have rank 4 (NHWC)");
  const int64_t channels = dims(input(0))[3];
  std::vector<ir::Attribute> attrs = {ir::attr_ints("strides", tfl_.attr_ints("strides")), ir::attr_ints("dilations", tfl_.attr_ints("dilations")),
                                      ir::attr_string("auto_pad", tfl_.attr_s("padding", "SAME") == "SAME" ? "SAME_UPPER" : "VALID")};
  if (depthwise) {
    if (w.shape()[0] != 1 || channels < 1 || w.shape()[3] % channels != 0)
      refuse("a depthwise filter of shape " + shape_to_string(w.shape()) + " for " + std::to_string(channels) + " input channels");
    attrs.push_back(ir::attr_int("group", channels));
  } else if (channels > 0 && w.shape()[3] != channels) {
    refuse("the filter takes " + std::to_string(w.shape()[3]) + " channels, the input has " + std::to_string(channels));
  }
  std::vector<int> ins = {transpose(input(0), {0, 3, 1, 2}, -1), add_constant("filter_oihw", filter_to_oihw(w, depthwise))};
  if (optional_input(2) >= 0) ins.push_back(optional_input(2));
  const int y = node("Conv", std::move(ins), -1, std::move(attrs));
  transpose(has_activation() ? activation(y, -1) : y, {0, 2, 3, 1}, output());
}

void Lowering::pool(const char* op) {
  if (rank_of_input(0) != 4) refuse("the input must have rank 4 (NHWC)");
  std::vector<ir::Attribute> attrs = {ir::attr_ints("kernel_shape", tfl_.attr_ints("kernel")), ir::attr_ints("strides", tfl_.attr_ints("strides")),
                                      ir::attr_string("auto_pad", tfl_.attr_s("padding", "SAME") == "SAME" ? "SAME_UPPER" : "VALID")};
  const int y = node(op, {transpose(input(0), {0, 3, 1, 2}, -1)}, -1, std::move(attrs));  // averages leave padding out, as TFLite does
  transpose(has_activation() ? activation(y, -1) : y, {0, 2, 3, 1}, output());
}

void Lowering::fully_connected() {
  const ir::ValueType w = g_.values[size_t(input(1))].type;
  if (!w.rank_known || w.dims.size() != 2 || w.dims[1] < 1) refuse("the weights must have a declared shape [units, inputs]");
  const Shape out = dims(output());
  if (std::any_of(out.begin(), out.end(), [](int64_t d) { return d < 0; })) refuse("the output has no declared shape");
  const int flat = node("Reshape", {input(0), add_constant("rows", Tensor::from_vector<int64_t>({-1, w.dims[1]}, {2}))}, -1);
  std::vector<int> ins = {flat, input(1)};
  if (optional_input(2) >= 0) ins.push_back(optional_input(2));
  const int y = activation(node("Gemm", std::move(ins), -1, {ir::attr_int("transB", 1)}), -1);
  node("Reshape", {y, add_constant("shape", Tensor::from_vector<int64_t>(out, {int64_t(out.size())}))}, output());
}

void Lowering::binary(const char* op) {
  const int y = node(op, {input(0), input(1)}, has_activation() ? -1 : output());
  if (has_activation()) activation(y, output());
}

void Lowering::unary(const char* op) { node(op, {input(0)}, output()); }

// RESHAPE, SQUEEZE, EXPAND_DIMS: to the declared output shape.
void Lowering::reshape() {
  const Shape out = dims(output());
  if (!g_.values[size_t(output())].type.rank_known || std::any_of(out.begin(), out.end(), [](int64_t d) { return d < 0; }))
    refuse("the output has no declared shape");
  node("Reshape", {input(0), add_constant("shape", Tensor::from_vector<int64_t>(out, {int64_t(out.size())}))}, output());
}

void Lowering::pad() {
  const std::vector<int64_t> p = constant_ints(1, "paddings");
  const size_t rank = size_t(rank_of_input(0));
  if (p.size() != 2 * rank) refuse("paddings hold " + std::to_string(p.size()) + " values for rank " + std::to_string(rank));
  std::vector<int64_t> pads(2 * rank);
  for (size_t d = 0; d < rank; ++d) {
    if (p[2 * d] < 0 || p[2 * d + 1] < 0) refuse("negative padding");
    pads[d] = p[2 * d], pads[rank + d] = p[2 * d + 1];
  }
  node("Pad", {input(0), add_constant("pads", Tensor::from_vector<int64_t>(pads, {int64_t(pads.size())}))}, output());
}

void Lowering::reduce(const char* op) {
  const std::vector<int64_t> axes = constant_ints(1, "axes");
  const int64_t keep = tfl_.attr_i("keep_dims", 0);
  if (std::string(op) == "ReduceSum")  // opset 13: ReduceSum takes its axes as an input, the others as an attribute
    node(op, {input(0), add_constant("axes", Tensor::from_vector<int64_t>(axes, {int64_t(axes.size())}))}, output(), {ir::attr_int("keepdims", keep)});
  else
    node(op, {input(0)}, output(), {ir::attr_ints("axes", axes), ir::attr_int("keepdims", keep)});
}

void Lowering::softmax() {
  const float beta = tfl_.attr_f("beta", 1.f);
  int x = input(0);
  if (beta != 1.f) x = node("Mul", {x, add_constant("beta", Tensor::scalar<float>(beta))}, -1);
  node("Softmax", {x}, output(), {ir::attr_int("axis", -1)});
}

void Lowering::concatenation() {
  std::vector<int> ins;
  for (size_t k = 0; k < tfl_.inputs.size(); ++k) ins.push_back(input(k));
  const int y = node("Concat", std::move(ins), has_activation() ? -1 : output(), {ir::attr_int("axis", tfl_.attr_i("axis", 0))});
  if (has_activation()) activation(y, output());
}

void Lowering::batch_matmul() {
  auto operand = [&](size_t k, const char* flag) {
    if (!tfl_.attr_i(flag, 0)) return input(k);
    const int rank = rank_of_input(k);
    if (rank < 2) refuse("a transposed operand needs rank 2 or more");
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) perm[size_t(d)] = d;
    std::swap(perm[size_t(rank - 1)], perm[size_t(rank - 2)]);
    return transpose(input(k), perm, -1);
  };
  node("MatMul", {operand(0, "adj_x"), operand(1, "adj_y")}, output());
}

// ONNX's TensorProto data type of a pareto type.
int64_t onnx_type(DType t) {
  switch (t) {
    case DType::f32: return 1;
    case DType::u8: return 2;
    case DType::i8: return 3;
    case DType::i16: return 5;
    case DType::i32: return 6;
    case DType::i64: return 7;
    case DType::boolean: return 9;
    case DType::f16: return 10;
    default: fail_unsupported(std::string("CAST to ") + dtype_name(t));
  }
}

void Lowering::check_same_quantization(const std::vector<std::string>& prefixes) const {
  for (const std::string& p : prefixes)
    if (tfl_.attr_floats(p + "_scale") != tfl_.attr_floats(prefixes[0] + "_scale") || tfl_.attr_ints(p + "_zero") != tfl_.attr_ints(prefixes[0] + "_zero"))
      fail_unsupported(what_ + ": " + p + " is quantized differently from " + prefixes[0] + " (this operator would have to requantize)");
}

void Lowering::cast() { node("Cast", {input(0)}, output(), {ir::attr_int("to", onnx_type(g_.values[size_t(output())].type.dtype))}); }

void Lowering::pack() {
  const int64_t axis = tfl_.attr_i("axis", 0);
  std::vector<std::string> data = {"out0"};
  std::vector<int> parts;
  for (size_t k = 0; k < tfl_.inputs.size(); ++k) {
    data.push_back("in" + std::to_string(k));
    parts.push_back(node("Unsqueeze", {input(k), add_constant("axis", Tensor::from_vector<int64_t>({axis}, {1}))}, -1));
  }
  check_same_quantization(data);
  node("Concat", std::move(parts), output(), {ir::attr_int("axis", axis)});
}

// One Gather per output: a scalar index drops the axis.
void Lowering::unpack() {
  const int64_t axis = tfl_.attr_i("axis", 0);
  std::vector<std::string> data = {"in0"};
  for (size_t k = 0; k < tfl_.outputs.size(); ++k) {
    data.push_back("out" + std::to_string(k));
    node("Gather", {input(0), add_constant("index", Tensor::scalar<int64_t>(int64_t(k)))}, tfl_.outputs[k], {ir::attr_int("axis", axis)});
  }
  check_same_quantization(data);
}

void Lowering::gather_nd() {
  check_same_quantization({"in0", "out0"});
  int indices = input(1);
  if (g_.values[size_t(indices)].type.dtype != DType::i64) indices = node("Cast", {indices}, -1, {ir::attr_int("to", 7)});
  node("GatherND", {input(0), indices}, output());
}

void Lowering::run(int32_t code) {
  switch (code) {
    case kConv: return conv(false);
    case kDepthwise: return conv(true);
    case kMaxPool: return pool("MaxPool");
    case kAveragePool: return pool("AveragePool");
    case kFullyConnected: return fully_connected();
    case kAdd: return binary("Add");
    case kSub: return binary("Sub");
    case kMul: return binary("Mul");
    case kDiv: return binary("Div");
    case kMaximum: return binary("Max");
    case kMinimum: return binary("Min");
    case kLogistic: return unary("Sigmoid");
    case kTanh: return unary("Tanh");
    case kRelu: return unary("Relu");
    case kExp: return unary("Exp");
    case kLog: return unary("Log");
    case kSqrt: return unary("Sqrt");
    case kAbs: return unary("Abs");
    case kNeg: return unary("Neg");
    case kRsqrt: node("Reciprocal", {node("Sqrt", {input(0)}, -1)}, output()); return;
    case kRelu6:
      node("Clip", {input(0), add_constant("min", Tensor::scalar<float>(0.f)), add_constant("max", Tensor::scalar<float>(6.f))}, output());
      return;
    case kLeakyRelu: node("LeakyRelu", {input(0)}, output(), {ir::attr_float("alpha", tfl_.attr_f("alpha", 0.2f))}); return;
    case kReshape:
    case kSqueeze:
    case kExpandDims: return reshape();
    case kTranspose: transpose(input(0), constant_ints(1, "permutation"), output()); return;
    case kPad: return pad();
    case kMean: return reduce("ReduceMean");
    case kReduceMax: return reduce("ReduceMax");
    case kSum: return reduce("ReduceSum");
    case kSoftmax: return softmax();
    case kConcatenation: return concatenation();
    case kBatchMatMul: return batch_matmul();
    case kCast: return cast();
    case kPack: return pack();
    case kUnpack: return unpack();
    case kGatherNd: return gather_nd();
    default: fail_unsupported(what_ + ": no float lowering");
  }
}

}  // namespace

bool lowers(int32_t code, bool quantized) {
  if (std::find(std::begin(kAnyType), std::end(kAnyType), code) != std::end(kAnyType)) return true;
  return !quantized && std::find(std::begin(kLowered), std::end(kLowered), code) != std::end(kLowered);
}

void lower_operator(ir::Graph& g, int32_t code, const ir::Node& tfl, const std::string& what) {
  if (tfl.outputs.size() != 1 && code != kUnpack) fail_model(what + ": " + std::to_string(tfl.outputs.size()) + " outputs, one expected");
  Lowering(g, tfl, what).run(code);
}

}  // namespace pareto::tflite
