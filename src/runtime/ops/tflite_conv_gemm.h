// The TFLite conv (uint8 or int8, groups of one) as pareto's integer GEMM
// conv runs it (kernels/int8_conv.h: VNNI dot products over an im2col or
// shifted operand): its int32 sums Σ (x - x_zero)(w - w_zero) are exact, so
// adding TFLite's bias, multiplier, zero point and clamp to them gives
// TFLite's bytes, as the reference loop does (tests/models/check_tflite.sh
// compares both with TFLite itself).
#pragma once
#include "core/tensor.h"
#include "kernels/qnhwc.h"
#include "runtime/op_registry.h"

namespace pareto::runtime {

// Runs the conv when the GEMM path serves it on this machine (AVX-512 VNNI,
// the sums within int32); false to let the caller run the reference loop.
// filter_zero: the filter's zero points (one, or one per output channel).
bool tfl_conv_by_gemm(const OpContext& c, const kernels::QConvParams& p, const Tensor& x, const Tensor& w, const std::vector<int32_t>& filter_zero,
                      const int32_t* bias, Tensor& y);

}  // namespace pareto::runtime
