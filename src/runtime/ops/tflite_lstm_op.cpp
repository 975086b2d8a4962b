// UNIDIRECTIONAL_SEQUENCE_LSTM of an int8 TFLite model (kernels/qlstm.h):
// the adapter checks what a hostile file could get wrong (types, shapes,
// quantization parameters, the intermediate the hidden scale comes from)
// and derives TFLite's effective scales and biases exactly as TFLite does
// (the scale products in float, as TFLite computes them).
#include <cmath>

#include "kernels/qlstm.h"
#include "runtime/op_registry.h"

namespace pareto::runtime {

namespace {

// TFLite's input order for the LSTM (tensor indices of its node).
enum {
  kX = 0, kInputToInput = 1, kRecurrentToInput = 5, kCellToInput = 9, kInputBias = 12,
  kProjection = 16, kProjectionBias = 17, kHiddenState = 18, kCellState = 19, kInputLayerNorm = 20
};
constexpr int64_t kMaxDim = 1 << 16;  // no real LSTM is wider; keeps every int64 sum far from overflow

float scale_of(const OpContext& c, int input, bool need_zero_point_zero) {
  const std::string k = "in" + std::to_string(input);
  const auto s = c.node.attr_floats(k + "_scale");
  const auto z = c.node.attr_ints(k + "_zero");
  if (s.size() != 1 || z.size() != 1) c.unsupported("input " + std::to_string(input) + " needs one quantization scale and zero point");
  if (!(s[0] >= 1e-20f && s[0] <= 1e10f)) c.invalid("input " + std::to_string(input) + " has a quantization scale of " + std::to_string(s[0]));
  if (need_zero_point_zero && z[0] != 0) c.unsupported("input " + std::to_string(input) + ": weights with a nonzero zero point");
  return s[0];
}

int32_t zero_of(const OpContext& c, int input) {
  const auto z = c.node.attr_ints("in" + std::to_string(input) + "_zero");
  if (z.size() != 1 || z[0] < -128 || z[0] > 127) c.invalid("input " + std::to_string(input) + " needs an int8 zero point");
  return int32_t(z[0]);
}

const Tensor& typed(const OpContext& c, int input, DType t, const Shape& shape) {
  const Tensor& v = c.in(size_t(input));
  if (v.dtype() != t || v.shape() != shape)
    c.invalid("input " + std::to_string(input) + " is " + dtype_name(v.dtype()) + " " + shape_to_string(v.shape()) + ", expected " + dtype_name(t) + " " +
              shape_to_string(shape));
  return v;
}

// TFLite's CheckedLog2: the scale must be a power of two (to 1e-3 in its exponent).
int power_of_two(const OpContext& c, float scale) {
  const float exponent = std::log(scale) * (1.0f / std::log(2.0f));
  const float rounded = std::round(exponent);
  if (!(std::abs(exponent - rounded) < 1e-3f)) c.unsupported("a cell state scale that is not a power of two");
  return int(rounded);
}

void refuse_variants(const OpContext& c) {
  if (c.node.attr_s("activation", "NONE") != "TANH") c.unsupported("an integer LSTM whose activation is not TANH");
  for (int k = kCellToInput; k < kCellToInput + 3; ++k)
    if (c.has(size_t(k))) c.unsupported("peephole connections");
  if (c.has(kProjection) || c.has(kProjectionBias)) c.unsupported("a projection");
  for (int k = kInputLayerNorm; k < kInputLayerNorm + 4; ++k)
    if (c.has(size_t(k))) c.unsupported("layer normalization");
  if (!c.has(kInputToInput)) c.unsupported("CIFG (no input gate)");
}

// Each gate's weights, effective scales (in float, as TFLite computes them)
// and zero-point-corrected biases.
void set_gates(const OpContext& c, kernels::QLstmParams& p, float input_scale, int32_t input_zero, float state_scale, int32_t state_zero) {
  const float gate_scale = std::pow(2.0f, -12.0f);  // without layer norm, TFLite's gates are Q3.12
  for (int g = 0; g < 4; ++g) {
    const int wi = kInputToInput + g, wr = kRecurrentToInput + g;
    kernels::QLstmGate& gate = p.gates[g];
    gate.input_weights = typed(c, wi, DType::i8, {p.cells, p.input}).data<int8_t>();
    gate.recurrent_weights = typed(c, wr, DType::i8, {p.cells, p.cells}).data<int8_t>();
    const int32_t* bias = typed(c, kInputBias + g, DType::i32, {p.cells}).data<int32_t>();
    gate.input_scale = kernels::fxp::quantize_multiplier(scale_of(c, wi, true) * input_scale / gate_scale);
    gate.recurrent_scale = kernels::fxp::quantize_multiplier(scale_of(c, wr, true) * state_scale / gate_scale);
    gate.input_bias = kernels::qlstm_effective_bias(gate.input_weights, p.cells, p.input, -input_zero, bias);
    gate.recurrent_bias = kernels::qlstm_effective_bias(gate.recurrent_weights, p.cells, p.cells, -state_zero, nullptr);
  }
}

// The hidden state's rescaling (from the fifth intermediate) and the cell's clip.
void set_hidden_and_clip(const OpContext& c, kernels::QLstmParams& p, float cell_scale) {
  const auto hidden_scale = c.node.attr_floats("hidden_scale");
  const auto hidden_zero = c.node.attr_ints("hidden_zero");
  if (hidden_scale.size() != 1 || hidden_zero.size() != 1 || !(hidden_scale[0] >= 1e-20f && hidden_scale[0] <= 1e10f) || hidden_zero[0] < -128 ||
      hidden_zero[0] > 127)
    c.invalid("the LSTM's hidden-state intermediate has no usable int8 quantization");
  const float hidden_product = float(std::pow(2.0, -15) / hidden_scale[0] * std::pow(2.0, -15));  // TFLite keeps this one in float too
  p.hidden_scale = kernels::fxp::quantize_multiplier(hidden_product);
  p.hidden_zero = int32_t(hidden_zero[0]);
  const float clip = c.node.attr_f("cell_clip", 0.0f);
  p.cell_clip = clip > 0 ? int16_t(std::min(std::max(clip / cell_scale, -32768.0f), 32767.0f)) : 0;
}

// A state's start: the value given, or (a TFLite variable tensor, which
// the loader leaves out) what TFLite resets it to: the zero point.
template <class T>
std::vector<T> start_state(const OpContext& c, int input, DType t, const Shape& shape, int32_t zero) {
  if (c.has(size_t(input))) {
    const Tensor& v = typed(c, input, t, shape);
    return std::vector<T>(v.data<T>(), v.data<T>() + v.numel());
  }
  return std::vector<T>(size_t(shape_numel(shape)), T(zero));
}

void run_tfl_lstm(OpContext& c) {
  refuse_variants(c);
  const Tensor& x = c.in(kX);
  if (x.dtype() != DType::i8) c.unsupported(std::string("an LSTM on ") + dtype_name(x.dtype()) + " input (int8 only)");
  if (x.rank() != 3) c.unsupported("an LSTM input of rank " + std::to_string(x.rank()) + " (3 expected)");
  kernels::QLstmParams p;
  p.time_major = c.node.attr_i("time_major", 0) != 0;
  p.batch = p.time_major ? x.dim(1) : x.dim(0), p.time = p.time_major ? x.dim(0) : x.dim(1), p.input = x.dim(2);
  const Tensor& w0 = c.in(kInputToInput);
  if (w0.rank() != 2) c.invalid("the input weights have rank " + std::to_string(w0.rank()));
  p.cells = w0.dim(0);
  if (p.input < 1 || p.cells < 1 || p.input > kMaxDim || p.cells > kMaxDim || p.batch > kMaxDim)
    c.unsupported("an LSTM of " + std::to_string(p.cells) + " cells over " + std::to_string(p.input) + " inputs");
  const float state_scale = scale_of(c, kHiddenState, false), cell_scale = scale_of(c, kCellState, true);
  const int32_t state_zero = zero_of(c, kHiddenState);
  p.cell_shift = power_of_two(c, cell_scale);
  // TFLite's range: the cell's tanh then reads 0 to 6 integer bits (15 + shift).
  if (p.cell_shift > -9 || p.cell_shift < -15) c.unsupported("a cell state scale of 2^" + std::to_string(p.cell_shift) + " (2^-15 to 2^-9 are supported)");
  set_gates(c, p, scale_of(c, kX, false), zero_of(c, kX), state_scale, state_zero);
  set_hidden_and_clip(c, p, cell_scale);
  const Shape out_shape = p.time_major ? Shape{p.time, p.batch, p.cells} : Shape{p.batch, p.time, p.cells};
  if (c.node.attr_ints("out_shape") != out_shape)
    c.invalid("computes output shape " + shape_to_string(out_shape) + " but the file declares " + shape_to_string(c.node.attr_ints("out_shape")));
  if (c.node.attr_i("out_dtype", int64_t(DType::i8)) != int64_t(DType::i8)) c.invalid("writes int8 but the file declares another output type");
  // Each run starts from the states' start values (TFLite keeps them between
  // invocations; a graph run here is one whole sequence).
  std::vector<int8_t> h = start_state<int8_t>(c, kHiddenState, DType::i8, {p.batch, p.cells}, state_zero);
  std::vector<int16_t> cell = start_state<int16_t>(c, kCellState, DType::i16, {p.batch, p.cells}, 0);
  Tensor& y = c.out(0, DType::i8, out_shape);
  kernels::qlstm_ref(p, x.data<int8_t>(), h.data(), cell.data(), y.data<int8_t>());
}

}  // namespace

void register_tflite_lstm_ops(OpRegistry& r) { r.add("TflUnidirectionalLstm", run_tfl_lstm); }

}  // namespace pareto::runtime
