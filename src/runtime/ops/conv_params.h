// Conv geometry from a node's attributes and its input shapes, shared by
// Conv, the fused convs and the integer convs (QLinearConv, ConvInteger).
#pragma once
#include "kernels/conv.h"
#include "runtime/ops/op_util.h"

namespace pareto::runtime {

// Validated 1-D or 2-D geometry (errors name the node); epilogue and packed
// weights left empty.
kernels::ConvParams conv_params(const OpContext& ctx, const Tensor& x, const Tensor& w);
Shape conv_output_shape(const Tensor& x, const kernels::ConvParams& p);
// Output type of a conv whose data and weight are inputs x_index and
// w_index; out_dtype undefined: the data's type.
void infer_conv_from(InferContext& ctx, size_t x_index, size_t w_index, DType out_dtype);

}  // namespace pareto::runtime
