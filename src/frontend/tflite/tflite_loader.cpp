#include "frontend/tflite/tflite_loader.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "core/checked.h"
#include "core/error.h"
#include "core/tensor.h"
#include "frontend/tflite/flatbuffer.h"
#include "frontend/tflite/float_ops.h"

namespace pareto::tflite {

namespace {

// Field numbers of the TFLite schema's tables (a union takes two: its type, then its value).
namespace model_field { enum { version = 0, operator_codes = 1, subgraphs = 2, description = 3, buffers = 4 }; }
namespace code_field { enum { deprecated_builtin = 0, custom = 1, version = 2, builtin = 3 }; }
namespace subgraph_field { enum { tensors = 0, inputs = 1, outputs = 2, operators = 3, name = 4 }; }
namespace tensor_field { enum { shape = 0, type = 1, buffer = 2, name = 3, quantization = 4, is_variable = 5 }; }
namespace quant_field { enum { scale = 2, zero_point = 3, details_type = 4, quantized_dimension = 6 }; }
namespace op_field { enum { opcode_index = 0, inputs = 1, outputs = 2, options_type = 3, options = 4, intermediates = 8 }; }
namespace buffer_field { enum { data = 0, offset = 1, size = 2 }; }

// The builtin operators read here: TFLite code, name, the node type they
// become, and the BuiltinOptions union member their options table must be
// (0: none read).
struct OpInfo {
  int32_t code;
  const char* name;
  const char* node_type;
  uint8_t options;
};
constexpr OpInfo kOps[] = {
    {0, "ADD", "TflAdd", 11},
    {1, "AVERAGE_POOL_2D", "TflAveragePool2D", 5},
    {2, "CONCATENATION", "TflConcatenation", 10},
    {3, "CONV_2D", "TflConv2D", 1},
    {4, "DEPTHWISE_CONV_2D", "TflDepthwiseConv2D", 2},
    {6, "DEQUANTIZE", "TflDequantize", 0},
    {9, "FULLY_CONNECTED", "TflFullyConnected", 8},
    {17, "MAX_POOL_2D", "TflMaxPool2D", 5},
    {22, "RESHAPE", "TflReshape", 17},
    {23, "RESIZE_BILINEAR", "TflResizeBilinear", 15},
    {25, "SOFTMAX", "TflSoftmax", 9},
    {40, "MEAN", "TflMean", 27},
    {43, "SQUEEZE", "TflReshape", 30},
    {56, "ARG_MAX", "TflArgMax", 40},
    {114, "QUANTIZE", "TflQuantize", 0},
    {44, "UNIDIRECTIONAL_SEQUENCE_LSTM", "TflUnidirectionalLstm", 71},
    // Lowered to ONNX operators when not quantized (frontend/tflite/float_ops.h);
    // nullptr: no quantized kernel yet.
    {14, "LOGISTIC", "TflLogistic", 0},
    {18, "MUL", "TflMul", 21},
    {19, "RELU", nullptr, 0},
    {21, "RELU6", nullptr, 0},
    {28, "TANH", nullptr, 0},
    {34, "PAD", nullptr, 22},
    {39, "TRANSPOSE", nullptr, 26},
    {41, "SUB", "TflSub", 28},
    {42, "DIV", nullptr, 29},
    {47, "EXP", nullptr, 33},
    {55, "MAXIMUM", nullptr, 39},
    {57, "MINIMUM", nullptr, 39},
    {59, "NEG", nullptr, 42},
    {70, "EXPAND_DIMS", nullptr, 52},
    {73, "LOG", nullptr, 0},
    {74, "SUM", nullptr, 27},
    {75, "SQRT", nullptr, 0},
    {76, "RSQRT", nullptr, 0},
    {82, "REDUCE_MAX", nullptr, 27},
    {98, "LEAKY_RELU", nullptr, 75},
    {101, "ABS", nullptr, 78},
    {126, "BATCH_MATMUL", nullptr, 101},
    {53, "CAST", nullptr, 0},
    {83, "PACK", nullptr, 59},
    {88, "UNPACK", nullptr, 64},
    {90, "FLOOR_DIV", "TflFloorDiv", 0},
    {107, "GATHER_ND", nullptr, 0},
};

// Bounds no real model comes near, so that a small hostile file cannot make
// the loader copy much more than it holds (one table may be listed many
// times; each listing would become a value with its own shape and name).
constexpr uint32_t kMaxRank = 16;
constexpr size_t kMaxNameBytes = 4096;
constexpr uint32_t kMaxOperatorTensors = 32;  // an LSTM lists 24 inputs

const OpInfo* find_op(int32_t code) {
  for (const OpInfo& o : kOps)
    if (o.code == code) return &o;
  return nullptr;
}

DType tensor_type(int8_t t, const std::string& what) {
  switch (t) {
    case 0: return DType::f32;
    case 1: return DType::f16;
    case 2: return DType::i32;
    case 3: return DType::u8;
    case 4: return DType::i64;
    case 6: return DType::boolean;
    case 7: return DType::i16;
    case 9: return DType::i8;
    default: fail_unsupported(what + ": TFLite tensor type " + std::to_string(t) + " is not supported");
  }
}

const char* activation_name(int8_t a, const std::string& what) {
  switch (a) {
    case 0: return "NONE";
    case 1: return "RELU";
    case 2: return "RELU_N1_TO_1";
    case 3: return "RELU6";
    default: fail_unsupported(what + ": fused activation " + std::to_string(a) + " (TANH, SIGN_BIT) is not supported");
  }
}

struct Quant {
  std::vector<float> scale;
  std::vector<int64_t> zero;
  int64_t axis = 0;
};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name, std::shared_ptr<const void> owner)
      : file_(data, size, name), owner_(std::move(owner)) {}
  ir::Model read();

 private:
  void read_codes(const Table& model);
  void read_tensors(const Table& subgraph, const FlatVector& buffers);
  Tensor constant_of(const Table& buffer, DType dtype, const Shape& shape, const std::string& what);
  void read_operator(const Table& op, uint32_t index);
  void add_options(ir::Node& n, const OpInfo& info, const Table& options, const std::string& what);
  void add_quant(ir::Node& n, const std::string& prefix, int tensor);
  // Tensor indices, at most max_count of them; -1 (an absent optional input) where allowed.
  std::vector<int> tensor_list(const FlatVector& v, const std::string& what, bool allow_absent, size_t max_count);
  void add_lstm_intermediates(ir::Node& n, const Table& op, const std::string& what);

  FlatFile file_;
  std::shared_ptr<const void> owner_;
  std::vector<int32_t> codes_;
  std::vector<int> value_of_tensor_;
  std::vector<Quant> quant_;
  std::vector<bool> state_;  // per tensor: a variable tensor without a buffer
  std::shared_ptr<ir::Graph> g_ = std::make_shared<ir::Graph>();
};

void Reader::read_codes(const Table& model) {
  const FlatVector codes = model.vector(model_field::operator_codes, 4, "operator codes");
  for (uint32_t i = 0; i < codes.size(); ++i) {
    const Table c = codes.table(i, "operator code");
    // Codes above 127 live in the int32 field; older files only have the byte.
    const int32_t deprecated = c.scalar<int8_t>(code_field::deprecated_builtin, 0, "operator code");
    const int32_t builtin = c.scalar<int32_t>(code_field::builtin, 0, "operator code");
    codes_.push_back(std::max(deprecated, builtin));
  }
}

Tensor Reader::constant_of(const Table& buffer, DType dtype, const Shape& shape, const std::string& what) {
  const uint64_t need = uint64_t(shape_numel(shape)) * dtype_size(dtype);
  const uint8_t* bytes = nullptr;
  uint64_t have = 0;
  const FlatVector data = buffer.vector(buffer_field::data, 1, "buffer data");
  if (data.size() > 0) {
    bytes = file_.data() + data.start(), have = data.size();
  } else {
    // Models over 2 GiB keep buffers after the FlatBuffer, by file offset.
    const uint64_t offset = buffer.scalar<uint64_t>(buffer_field::offset, 0, "buffer offset");
    const uint64_t size = buffer.scalar<uint64_t>(buffer_field::size, 0, "buffer size");
    if (offset > 1) {
      const auto end = checked_add(offset, size);
      if (!end || *end > file_.size()) file_.fail(buffer.offset(), what + ": its buffer runs past the end of the file");
      bytes = file_.data() + offset, have = size;
    }
  }
  if (!bytes) return {};
  if (have != need)
    file_.fail(buffer.offset(), what + ": its buffer holds " + std::to_string(have) + " bytes, its shape " + shape_to_string(shape) + " needs " +
                                     std::to_string(need));
  const size_t align = dtype_size(dtype);
  if (owner_ && reinterpret_cast<uintptr_t>(bytes) % align == 0) return Tensor::wrap(dtype, shape, owner_, bytes);
  Tensor t = Tensor::empty(dtype, shape);
  std::memcpy(t.raw(), bytes, size_t(need));
  return t;
}

void Reader::read_tensors(const Table& subgraph, const FlatVector& buffers) {
  const FlatVector tensors = subgraph.vector(subgraph_field::tensors, 4, "tensors");
  std::set<size_t> seen;
  for (uint32_t i = 0; i < tensors.size(); ++i) {
    const Table t = tensors.table(i, "tensor");
    if (!seen.insert(t.offset()).second) file_.fail(t.offset(), "tensor " + std::to_string(i) + " is the same table as an earlier tensor");
    std::string name = t.string(tensor_field::name, "tensor name");
    if (name.size() > kMaxNameBytes) file_.fail(t.offset(), "tensor " + std::to_string(i) + ": a name of " + std::to_string(name.size()) + " bytes");
    if (name.empty()) name = "tensor_" + std::to_string(i);
    // A repeated name gets the tensor's index (unique_name alone would probe _1, _2, ... each time).
    if (g_->find_value(name) >= 0) name += "#" + std::to_string(i);
    const std::string what = "tensor " + std::to_string(i) + " '" + name + "'";
    const FlatVector dims = t.vector(tensor_field::shape, 4, "tensor shape");
    if (dims.size() > kMaxRank) file_.fail(t.offset(), what + ": rank " + std::to_string(dims.size()) + " (at most " + std::to_string(kMaxRank) + ")");
    Shape shape;
    for (uint32_t d = 0; d < dims.size(); ++d) {
      const int32_t v = dims.scalar<int32_t>(d, "tensor shape");
      if (v < 0) file_.fail(t.offset(), what + ": dimension " + std::to_string(d) + " is " + std::to_string(v));
      shape.push_back(v);
    }
    check_declared_shape(shape, what);
    const DType dtype = tensor_type(t.scalar<int8_t>(tensor_field::type, 0, "tensor type"), what);
    const int v = g_->add_value(g_->unique_name(name));
    ir::Value& value = g_->values[size_t(v)];
    value.type.dtype = dtype;
    value.type.rank_known = true;
    value.type.dims = shape;
    value.type.dim_params.assign(shape.size(), "");
    const uint32_t b = t.scalar<uint32_t>(tensor_field::buffer, 0, "tensor buffer");
    if (b >= buffers.size()) file_.fail(t.offset(), what + ": buffer " + std::to_string(b) + " of " + std::to_string(buffers.size()));
    if (b > 0) value.constant = constant_of(buffers.table(b, "buffer"), dtype, shape, what);
    const bool variable = t.scalar<uint8_t>(tensor_field::is_variable, 0, "tensor") != 0;
    Quant q;
    const Table qt = t.table(tensor_field::quantization, "quantization");
    if (qt.valid()) {
      if (qt.scalar<uint8_t>(quant_field::details_type, 0, "quantization") != 0)
        fail_unsupported(what + ": custom quantization details are not supported");
      const FlatVector scale = qt.vector(quant_field::scale, 4, "quantization scale");
      const FlatVector zero = qt.vector(quant_field::zero_point, 8, "quantization zero point");
      for (uint32_t k = 0; k < scale.size(); ++k) q.scale.push_back(scale.scalar<float>(k, "quantization scale"));
      for (uint32_t k = 0; k < zero.size(); ++k) q.zero.push_back(zero.scalar<int64_t>(k, "quantization zero point"));
      q.axis = qt.scalar<int32_t>(quant_field::quantized_dimension, 0, "quantization axis");
      if (!q.scale.empty() && q.zero.size() != q.scale.size())
        file_.fail(qt.offset(), what + ": " + std::to_string(q.scale.size()) + " scales but " + std::to_string(q.zero.size()) + " zero points");
      if (q.scale.size() > 1 && (q.axis < 0 || q.axis >= int64_t(shape.size()) || int64_t(q.scale.size()) != shape[size_t(q.axis)]))
        file_.fail(qt.offset(), what + ": " + std::to_string(q.scale.size()) + " scales do not match dimension " + std::to_string(q.axis) +
                                    " of " + shape_to_string(shape));
    }
    g_->values[size_t(v)].quant_scale = q.scale, g_->values[size_t(v)].quant_zero = q.zero, g_->values[size_t(v)].quant_axis = q.axis;
    // A variable tensor without a buffer is a recurrent op's state; nothing
    // is allocated for it here (a small file may list many large ones): the
    // op that reads it makes its start value (read_operator).
    state_.push_back(variable && !g_->values[size_t(v)].constant.defined());
    value_of_tensor_.push_back(v);
    quant_.push_back(std::move(q));
  }
}

std::vector<int> Reader::tensor_list(const FlatVector& v, const std::string& what, bool allow_absent, size_t max_count) {
  std::vector<int> out;
  if (v.size() > max_count) file_.fail(v.start(), what + ": " + std::to_string(v.size()) + " tensors listed (at most " + std::to_string(max_count) + ")");
  for (uint32_t i = 0; i < v.size(); ++i) {
    const int32_t t = v.scalar<int32_t>(i, what.c_str());
    if (t == -1 && allow_absent) {
      out.push_back(-1);
      continue;
    }
    if (t < 0 || size_t(t) >= value_of_tensor_.size())
      file_.fail(v.start() + 4 * i, what + ": tensor index " + std::to_string(t) + " of " + std::to_string(value_of_tensor_.size()));
    out.push_back(t);
  }
  return out;
}

void Reader::add_quant(ir::Node& n, const std::string& prefix, int tensor) {
  const Quant& q = quant_[size_t(tensor)];
  if (q.scale.empty()) return;
  n.set_attr(ir::attr_floats(prefix + "_scale", q.scale));
  n.set_attr(ir::attr_ints(prefix + "_zero", q.zero));
  n.set_attr(ir::attr_int(prefix + "_axis", q.axis));
}

void Reader::add_options(ir::Node& n, const OpInfo& info, const Table& o, const std::string& what) {
  auto i32 = [&](int field, int32_t fallback) { return int64_t(o.scalar<int32_t>(field, fallback, "operator options")); };
  auto i8 = [&](int field) { return o.scalar<int8_t>(field, 0, "operator options"); };
  auto padding = [&](int field) { n.set_attr(ir::attr_string("padding", i8(field) == 1 ? "VALID" : "SAME")); };
  auto activation = [&](int field) { n.set_attr(ir::attr_string("activation", activation_name(i8(field), what))); };
  switch (info.code) {
    case 3:  // CONV_2D: padding, stride_w, stride_h, activation, dilation_w, dilation_h
      padding(0), activation(3);
      n.set_attr(ir::attr_ints("strides", {i32(2, 1), i32(1, 1)}));
      n.set_attr(ir::attr_ints("dilations", {i32(5, 1), i32(4, 1)}));
      break;
    case 4:  // DEPTHWISE_CONV_2D: padding, stride_w, stride_h, depth_multiplier, activation, dilation_w, dilation_h
      padding(0), activation(4);
      n.set_attr(ir::attr_ints("strides", {i32(2, 1), i32(1, 1)}));
      n.set_attr(ir::attr_ints("dilations", {i32(6, 1), i32(5, 1)}));
      n.set_attr(ir::attr_int("depth_multiplier", i32(3, 1)));
      break;
    case 1:
    case 17:  // pools: padding, stride_w, stride_h, filter_width, filter_height, activation
      padding(0), activation(5);
      n.set_attr(ir::attr_ints("strides", {i32(2, 1), i32(1, 1)}));
      n.set_attr(ir::attr_ints("kernel", {i32(4, 1), i32(3, 1)}));
      break;
    case 9:  // FULLY_CONNECTED: activation, weights_format, keep_num_dims
      activation(0);
      if (i8(1) != 0) fail_unsupported(what + ": shuffled fully-connected weights are not supported");
      n.set_attr(ir::attr_int("keep_num_dims", o.scalar<uint8_t>(2, 0, "operator options")));
      break;
    case 0:   // ADD: activation
    case 18:  // MUL: activation
    case 41:  // SUB: activation
    case 42:  // DIV: activation
      activation(0);
      break;
    case 98:  // LEAKY_RELU: alpha
      n.set_attr(ir::attr_float("alpha", o.scalar<float>(0, 0.f, "operator options")));
      break;
    case 83:  // PACK: values_count, axis
    case 88:  // UNPACK: num, axis
      n.set_attr(ir::attr_int("axis", i32(1, 0)));
      break;
    case 126:  // BATCH_MATMUL: adj_x, adj_y
      n.set_attr(ir::attr_int("adj_x", o.scalar<uint8_t>(0, 0, "operator options")));
      n.set_attr(ir::attr_int("adj_y", o.scalar<uint8_t>(1, 0, "operator options")));
      break;
    case 2:  // CONCATENATION: axis, activation
      n.set_attr(ir::attr_int("axis", i32(0, 0)));
      activation(1);
      break;
    case 23:  // RESIZE_BILINEAR: new_height, new_width (deprecated), align_corners, half_pixel_centers
      n.set_attr(ir::attr_int("align_corners", o.scalar<uint8_t>(2, 0, "operator options")));
      n.set_attr(ir::attr_int("half_pixel_centers", o.scalar<uint8_t>(3, 0, "operator options")));
      break;
    case 44:  // UNIDIRECTIONAL_SEQUENCE_LSTM: activation (the cell's, not fused), cell_clip, proj_clip, time_major
      n.set_attr(ir::attr_string("activation", i8(0) == 4 ? "TANH" : "activation code " + std::to_string(i8(0))));
      n.set_attr(ir::attr_float("cell_clip", o.scalar<float>(1, 0.f, "operator options")));
      n.set_attr(ir::attr_float("proj_clip", o.scalar<float>(2, 0.f, "operator options")));
      n.set_attr(ir::attr_int("time_major", o.scalar<uint8_t>(3, 0, "operator options")));
      break;
    case 25:  // SOFTMAX: beta
      n.set_attr(ir::attr_float("beta", o.scalar<float>(0, 1.0f, "operator options")));
      break;
    case 40:  // MEAN, REDUCE_MAX, SUM: keep_dims
    case 74:
    case 82:
      n.set_attr(ir::attr_int("keep_dims", o.scalar<uint8_t>(0, 0, "operator options")));
      break;
    default:
      break;
  }
}

// The integer LSTM's fifth intermediate carries the hidden state's scale
// (the first four matter only with layer normalization, which is refused).
void Reader::add_lstm_intermediates(ir::Node& n, const Table& op, const std::string& what) {
  const std::vector<int> inter = tensor_list(op.vector(op_field::intermediates, 4, "operator intermediates"), what + " intermediates", false, 8);
  if (inter.size() != 5) return;  // a float LSTM has none; the kernel says what it lacks
  const Quant& q = quant_[size_t(inter[4])];
  n.set_attr(ir::attr_floats("hidden_scale", q.scale));
  n.set_attr(ir::attr_ints("hidden_zero", q.zero));
}

void Reader::read_operator(const Table& op, uint32_t index) {
  const uint32_t ci = op.scalar<uint32_t>(op_field::opcode_index, 0, "operator");
  if (ci >= codes_.size()) file_.fail(op.offset(), "operator " + std::to_string(index) + ": opcode index " + std::to_string(ci) + " of " +
                                                       std::to_string(codes_.size()));
  const std::vector<int> inputs = tensor_list(op.vector(op_field::inputs, 4, "operator inputs"), "operator " + std::to_string(index) + " inputs", true, kMaxOperatorTensors);
  const std::vector<int> outputs = tensor_list(op.vector(op_field::outputs, 4, "operator outputs"), "operator " + std::to_string(index) + " outputs", false, kMaxOperatorTensors);
  if (outputs.empty()) file_.fail(op.offset(), "operator " + std::to_string(index) + " has no outputs");
  const OpInfo* info = find_op(codes_[ci]);
  const std::string what = "operator " + std::to_string(index) + " (" + (info ? info->name : "code " + std::to_string(codes_[ci])) + ", output '" +
                           g_->values[size_t(value_of_tensor_[size_t(outputs[0])])].name + "')";
  if (!info) fail_unsupported(file_.name() + ": " + what + ": this TFLite operator is not supported yet");
  ir::Node n;
  n.name = g_->values[size_t(value_of_tensor_[size_t(outputs[0])])].name;
  n.op_type = info->node_type ? info->node_type : info->name;
  n.domain = "pareto";
  for (size_t k = 0; k < inputs.size(); ++k) {
    n.inputs.push_back(inputs[k] < 0 ? -1 : value_of_tensor_[size_t(inputs[k])]);
    if (inputs[k] >= 0) add_quant(n, "in" + std::to_string(k), inputs[k]);
  }
  for (size_t k = 0; k < outputs.size(); ++k) {
    const int v = value_of_tensor_[size_t(outputs[k])];
    if (g_->values[size_t(v)].producer >= 0 || g_->values[size_t(v)].constant.defined())
      file_.fail(op.offset(), what + ": output tensor '" + g_->values[size_t(v)].name + "' is written twice or is a constant");
    g_->values[size_t(v)].producer = int(g_->nodes.size());
    n.outputs.push_back(v);
    add_quant(n, "out" + std::to_string(k), outputs[k]);
  }
  // The declared output shape and type: reshapes take the shape, every kernel checks what it writes against both.
  n.set_attr(ir::attr_ints("out_shape", g_->values[size_t(n.outputs[0])].type.dims));
  n.set_attr(ir::attr_int("out_dtype", int64_t(g_->values[size_t(n.outputs[0])].type.dtype)));
  if (info->code == 114) {  // QUANTIZE: the kernel writes the declared integer type
    const DType out = g_->values[size_t(n.outputs[0])].type.dtype;
    if (out != DType::u8 && out != DType::i8) fail_unsupported(file_.name() + ": " + what + ": QUANTIZE to a type other than uint8 or int8");
    n.set_attr(ir::attr_int("out_signed", out == DType::i8 ? 1 : 0));
  }
  const uint8_t options_type = op.scalar<uint8_t>(op_field::options_type, 0, "operator");
  const Table options = op.table(op_field::options, "operator options");
  if (info->options != 0 && options.valid() && options_type != info->options)
    file_.fail(op.offset(), what + ": options of union type " + std::to_string(options_type) + ", expected " + std::to_string(info->options));
  if (info->options != 0) add_options(n, *info, options, what);
  if (info->code == 44) {
    add_lstm_intermediates(n, op, what);
    // The states (inputs 18 and 19) start as TFLite resets them: the kernel
    // makes them from their quantization when they are not given as values.
    for (size_t k : {size_t(18), size_t(19)})
      if (k < inputs.size() && inputs[k] >= 0 && state_[size_t(inputs[k])]) n.inputs[k] = -1;
  }
  const bool quantized = std::any_of(n.attrs.begin(), n.attrs.end(), [](const ir::Attribute& a) { return a.name.ends_with("_scale"); });
  if (lowers(info->code, quantized)) {
    for (int v : n.outputs) g_->values[size_t(v)].producer = -1;  // the lowering's nodes produce them
    lower_operator(*g_, info->code, n, file_.name() + ": " + what);
    return;
  }
  if (!info->node_type) fail_unsupported(file_.name() + ": " + what + ": only the float and integer (not quantized) form of this operator is supported yet");
  g_->nodes.push_back(std::move(n));
}

ir::Model Reader::read() {
  const Table model = root_table(file_, "TFL3");
  read_codes(model);
  const FlatVector buffers = model.vector(model_field::buffers, 4, "buffers");
  const FlatVector subgraphs = model.vector(model_field::subgraphs, 4, "subgraphs");
  if (subgraphs.size() == 0) file_.fail(model.offset(), "the model has no subgraphs");
  const Table main = subgraphs.table(0, "subgraph");
  read_tensors(main, buffers);
  for (int t : tensor_list(main.vector(subgraph_field::inputs, 4, "subgraph inputs"), "subgraph inputs", false, value_of_tensor_.size())) {
    const int v = value_of_tensor_[size_t(t)];
    if (!g_->values[size_t(v)].constant.defined()) g_->inputs.push_back(v);
  }
  const FlatVector ops = main.vector(subgraph_field::operators, 4, "operators");
  for (uint32_t i = 0; i < ops.size(); ++i) read_operator(ops.table(i, "operator"), i);
  for (int t : tensor_list(main.vector(subgraph_field::outputs, 4, "subgraph outputs"), "subgraph outputs", false, value_of_tensor_.size()))
    g_->outputs.push_back(value_of_tensor_[size_t(t)]);
  g_->name = main.string(subgraph_field::name, "subgraph name");
  ir::Model m;
  m.opsets[""] = 13;  // the ONNX operators float_ops.cpp lowers to are opset 13's (ReduceSum's axes as an input, ...)
  m.producer = "tflite (schema " + std::to_string(model.scalar<uint32_t>(model_field::version, 0, "model version")) + ")";
  m.path = file_.name();
  m.graph = g_;
  return m;
}

}  // namespace

bool is_tflite(const uint8_t* data, size_t size) { return size >= 8 && std::memcmp(data + 4, "TFL3", 4) == 0; }

ir::Model load_model_from_memory(const uint8_t* data, size_t size, const std::string& name, std::shared_ptr<const void> owner) {
  return Reader(data, size, name, std::move(owner)).read();
}

}  // namespace pareto::tflite
