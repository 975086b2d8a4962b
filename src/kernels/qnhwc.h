// Quantized NHWC kernels with TFLite's integer arithmetic (the TFLite
// frontend's ops): uint8 (asymmetric, per-tensor) and int8 (per-channel
// weights) convolutions, depthwise convolutions, fully connected layers,
// pools, elementwise add, softmax, spatial mean and requantization. Each
// output is the value TFLite's reference kernels compute, rounding step by
// rounding step (kernels/fixed_point.h).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/fixed_point.h"

namespace pareto::kernels {

// Convolution and depthwise convolution over NHWC input. Filters: conv
// [out_c, k_h, k_w, in_c]; depthwise [1, k_h, k_w, out_c] with out_c =
// in_c * depth_multiplier (output channel ic * depth_multiplier + m reads input channel ic).
struct QConvParams {
  int64_t batch = 1, in_h = 0, in_w = 0, in_c = 0, out_h = 0, out_w = 0, out_c = 0, k_h = 0, k_w = 0;
  int64_t stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1, pad_top = 0, pad_left = 0;
  int64_t depth_multiplier = 1;
  int32_t input_offset = 0;                   // minus the input zero point
  const int32_t* filter_offsets = nullptr;    // per output channel: minus the filter zero point
  const fxp::Multiplier* multipliers = nullptr;  // per output channel: input scale * filter scale / output scale
  int32_t output_offset = 0;                  // the output zero point
  int32_t act_min = 0, act_max = 0;           // the fused activation's range, in output units
  // Output rows (batch * out_h + oy) written: [rows_begin, rows_end), all when rows_end < 0.
  // Rows are independent, so a caller may split them over threads.
  int64_t rows_begin = 0, rows_end = -1;
};

template <class T>
void qconv_nhwc_ref(const QConvParams& p, const T* input, const T* filter, const int32_t* bias, T* output);
template <class T>
void qdepthwise_nhwc_ref(const QConvParams& p, const T* input, const T* filter, const int32_t* bias, T* output);
// The depthwise conv with depth_multiplier 1, AVX-512 (F, BW): filter as
// int32 [k_h * k_w][out_c] with the filter offsets already added
// (qdepthwise_filter_i32); the same bytes as the reference.
std::vector<int32_t> qdepthwise_filter_i32(const QConvParams& p, const void* filter, bool is_signed);
namespace avx512 {
template <class T>
void qdepthwise_nhwc(const QConvParams& p, const T* input, const int32_t* filter, const int32_t* bias, T* output);
}
namespace neon {  // the same at 4 lanes (arm/qdepthwise_neon.cpp)
template <class T>
void qdepthwise_nhwc(const QConvParams& p, const T* input, const int32_t* filter, const int32_t* bias, T* output);
}

// Fully connected: output[b][o] from input[b][0..depth) and filter[o][0..depth).
struct QFullyConnectedParams {
  int64_t batch = 1, depth = 0, units = 0;
  int32_t input_offset = 0;
  const int32_t* filter_offsets = nullptr;        // per unit
  const fxp::Multiplier* multipliers = nullptr;   // per unit
  int32_t output_offset = 0, act_min = 0, act_max = 0;
};
template <class T>
void qfully_connected_ref(const QFullyConnectedParams& p, const T* input, const T* filter, const int32_t* bias, T* output);

// Pools over NHWC (input and output share scale and zero point). The
// average divides by the number of input pixels the window covers
// (padding excluded), rounding half away from zero.
struct QPoolParams {
  int64_t batch = 1, in_h = 0, in_w = 0, channels = 0, out_h = 0, out_w = 0, k_h = 0, k_w = 0;
  int64_t stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0;
  int32_t act_min = 0, act_max = 0;
};
template <class T>
void qaverage_pool_nhwc_ref(const QPoolParams& p, const T* input, T* output);
template <class T>
void qmax_pool_nhwc_ref(const QPoolParams& p, const T* input, T* output);

// Two inputs broadcast to one output (NumPy's rules): per output dimension
// the step in a and in b (0 where that input is broadcast).
struct Broadcast {
  std::vector<int64_t> out, a_stride, b_stride;
};
// false when the shapes do not broadcast (or rank > 8).
bool broadcast_of(const std::vector<int64_t>& a, const std::vector<int64_t>& b, Broadcast& r);
// f(out_index, a_index, b_index) for every output element, in order.
template <class F>
void for_each_pair(const Broadcast& bc, F&& f) {
  const size_t rank = bc.out.size();
  int64_t total = 1;
  for (int64_t d : bc.out) total *= d;
  std::vector<int64_t> at(rank, 0);
  int64_t ai = 0, bi = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(i, ai, bi);
    for (size_t d = rank; d-- > 0;) {  // odometer: the last dimension moves fastest
      ai += bc.a_stride[d], bi += bc.b_stride[d];
      if (++at[d] < bc.out[d]) break;
      ai -= bc.a_stride[d] * bc.out[d], bi -= bc.b_stride[d] * bc.out[d], at[d] = 0;
    }
  }
}

// Elementwise a + b, both rescaled to twice the larger input scale with 20
// bits of headroom, then to the output scale. a - b is the same with b's
// multiplier negated (TFLite's SUB).
struct QAddParams {
  int32_t a_offset = 0, b_offset = 0, output_offset = 0;
  fxp::Multiplier a_multiplier, b_multiplier, output_multiplier;
  int left_shift = 20;
  int32_t act_min = 0, act_max = 0;
};
QAddParams make_qadd_params(float a_scale, int32_t a_zero, float b_scale, int32_t b_zero, float out_scale, int32_t out_zero,
                            int32_t act_min, int32_t act_max);
template <class T>
void qadd_ref(const QAddParams& p, const Broadcast& bc, const T* a, const T* b, T* output);

// Elementwise a * b: (a - a_zero)(b - b_zero) times a_scale * b_scale /
// out_scale (a float product, as TFLite computes it), plus the output zero point.
struct QMulParams {
  int32_t a_offset = 0, b_offset = 0, output_offset = 0;
  fxp::Multiplier multiplier;
  int32_t act_min = 0, act_max = 0;
};
template <class T>
void qmul_ref(const QMulParams& p, const Broadcast& bc, const T* a, const T* b, T* output);

// The logistic function in gemmlowp's fixed point: the input rescaled to Q4.27
// (inputs beyond the radius saturate), 1 / (1 + exp(-|x|)), output scale
// 1/256 with zero point 0 (uint8) or -128 (int8).
struct QLogisticParams {
  int32_t input_zero = 0, input_range_radius = 0;
  fxp::Multiplier input_multiplier;  // input scale * 2^27, a multiplier > 1
};
QLogisticParams make_qlogistic_params(float input_scale, int32_t input_zero);
template <class T>
void qlogistic_ref(const QLogisticParams& p, int64_t n, const T* input, T* output);

// Softmax over the last axis of rows x depth values: exp in fixed point
// Q5.26 of (x - max) * beta * input scale; output scale 1/256 (uint8, zero
// point 0) or 1/256 with zero point -128 (int8).
struct QSoftmaxParams {
  fxp::Multiplier input_multiplier;  // beta * input scale * 2^26, as a multiplier > 1
  int32_t diff_min = 0;              // differences below this give 0
};
QSoftmaxParams make_qsoftmax_params(double beta, double input_scale);
template <class T>
void qsoftmax_ref(const QSoftmaxParams& p, int64_t rows, int64_t depth, const T* input, T* output);

// Bilinear resize of NHWC as TFLite's RESIZE_BILINEAR computes it: source
// coordinates in float (align_corners, half_pixel_centers as the op says),
// the four-tap sum in float, then converted to T (plus 0.5 first when
// `round` is set; truncated otherwise).
struct ResizeParams {
  int64_t batch = 1, in_h = 0, in_w = 0, channels = 0, out_h = 0, out_w = 0;
  bool align_corners = false, half_pixel_centers = false, round = false;
};
template <class T>
void resize_bilinear_nhwc_ref(const ResizeParams& p, const T* input, T* output);

// Concatenation of `count` inputs along an axis, seen as [outer, input_axis[i] x inner]:
// each input copied, or rescaled to the output's quantization as TFLite does
// (round(q * s + b) in float with s = in_scale / out_scale) when its
// parameters differ.
template <class T>
void qconcat_ref(int64_t outer, int64_t inner, const std::vector<const T*>& inputs, const std::vector<int64_t>& axis_sizes,
                 const std::vector<float>& scales, const std::vector<int32_t>& zeros, float out_scale, int32_t out_zero, T* output);

// Index of the first largest value along the middle axis of [outer, depth, inner] values.
template <class T, class TIndex>
void argmax_ref(int64_t outer, int64_t depth, int64_t inner, const T* input, TIndex* output);

// Mean over H and W of NHWC, per batch and channel, to another scale.
template <class T>
void qmean_hw_ref(int64_t batch, int64_t h, int64_t w, int64_t c, const T* input, int32_t input_zero, float input_scale,
                  int32_t output_zero, float output_scale, T* output);

// out = clamp(round((in - in_zero) * m) + out_zero): Quantize between integer types.
template <class TIn, class TOut>
void qrequantize_ref(int64_t n, const TIn* input, int32_t input_zero, fxp::Multiplier m, int32_t output_zero, TOut* output);

}  // namespace pareto::kernels
