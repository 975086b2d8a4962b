// Conv geometry from a node's attributes and its input shapes, shared by
// Conv, the fused convs and the integer convs (QLinearConv, ConvInteger).
#pragma once
#include "kernels/conv.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

// Geometry attributes above this are refused: products of three of them stay
// far inside int64 (no overflow in output-size arithmetic), and no real
// model comes near it.
constexpr int64_t kMaxGeometry = int64_t(1) << 20;

// A conv node's bias (input 2) checked against its output channels, or null.
const float* conv_bias(const OpContext& ctx, int64_t c_out);
// FusedConv's / FusedConvTranspose's activation attributes (activation,
// alpha, beta, post_scale, post_shift, post_floor, each after `prefix`:
// FusedConvTransposePair's first conv's are first_*); none where absent.
kernels::Activation fused_activation(const OpContext& ctx, const std::string& prefix = "");

// Validated 1-D or 2-D geometry (errors name the node); epilogue and packed
// weights left empty.
kernels::ConvParams conv_params(const OpContext& ctx, const Tensor& x, const Tensor& w);
// The same from the node and the input and weight shapes (throws naming the node).
kernels::ConvParams conv_params_of(const ir::Node& node, const Shape& x, const Shape& w);
Shape conv_output_shape(const Tensor& x, const kernels::ConvParams& p);
// A group-1 conv's constant weights (input w_input) packed for the GEMM, or
// Winograd-transformed and packed, once per executor and kernel level;
// null where they are not a constant (f32_conv2d packs them per call).
// `slot` tells apart the convs of a node that runs several
// (FusedSqueezeExcite's two); a conv node's is 0.
std::shared_ptr<const void> packed_conv_weights(const OpContext& ctx, const kernels::ConvParams& p, bool winograd, const float* w,
                                                size_t w_input = 1, int slot = 0);
// Output type of a conv whose data and weight are inputs x_index and
// w_index; out_dtype undefined: the data's type.
void infer_conv_from(InferContext& ctx, size_t x_index, size_t w_index, DType out_dtype);
// A Conv that fold_qdq marked int8 (attributes x_scale, x_zero_point,
// w_scales): x quantized to uint8 as its QuantizeLinear did, the int8
// kernel, the float epilogue of p (bias, activation, residual) into y.
// With quant.data set, the finished values are rounded to uint8 there
// instead (y unused).
void run_conv_int8(OpContext& ctx, const kernels::ConvParams& p, const Tensor& x, const Tensor& w, const float* bias, float* y,
                   const kernels::QuantizedOutput& quant = {});
// x rounded to the int8 conv's input grid, (quantize(x) - zero) * scale, in
// a buffer of this thread's that the next call reuses.
const float* fake_quantized_input(const OpContext& ctx, const Tensor& x, int64_t c_out);
// The int8 code of a float weight that stands for q * scale (fold_qdq keeps
// the weights so): q again, clamped; a NaN weight has no defined code (the
// cast would be undefined) and becomes 0, as does a scale of 0.
int8_t weight_code(float w, float scale);
// A depthwise conv on the uint8 grid (p.quant_in set) with fold_qdq's
// w_scales: its int8 weights for the integer plane kernel, set into
// p.int8_weights and held by the returned pointer (once per executor for
// constant weights); null, p unchanged, where the weights are not their
// codes times w_scales exactly (the float kernel runs then). Call only
// where kernels::u8_depthwise_fast(p).
std::shared_ptr<const void> use_depthwise_int8_weights(const OpContext& ctx, kernels::ConvParams& p, const Tensor& w);
// A MatMul that fold_qdq marked int8 (x_scale, x_zero_point, w_scales per
// column of its constant 2-D B): the integer kernel, float out.
void run_matmul_int8(OpContext& ctx);
// The same MatMul where no vector int8 GEMM runs (kernels::int8_matmul_fast):
// its A rounded to the uint8 grid (checked as above), for the float MatMul
// by B (the float values q * w_scale): the QDQ graph's own arithmetic.
Tensor matmul_input_on_int8_grid(const OpContext& ctx);

// The Conv / FusedConv and ConvTranspose ops (registered by register_nn_ops).
void run_conv(OpContext& ctx);
void infer_conv(InferContext& ctx);
void run_conv_transpose(OpContext& ctx);
void infer_conv_transpose(InferContext& ctx);
// FusedConvTransposePair (conv_transpose.cpp, with ConvTranspose's).
void run_conv_transpose_pair(OpContext& ctx);
void infer_conv_transpose_pair(InferContext& ctx);

}  // namespace pareto::runtime
