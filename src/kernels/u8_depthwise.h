// Depthwise convolution on the uint8 grid with int8 weights, summed in
// integers: what a QDQ depthwise conv (Q -> DQ input, DequantizeLinear of
// int8 weights with zero point 0) computes, with exact integer sums as
// ONNX Runtime's QLinearConv takes them (it then adds an int32 bias and
// rescales once; here the float bias follows the scale). Per output: the
// exact sum over the taps inside the plane of (x - zero) * k, then
// y = float(sum) * scale + bias, scale the channel's x_scale * w_scale. The
// float plane kernels compute the same function with float sums (within
// their rounding); this one multiplies four taps per instruction (AVX-512
// VNNI) and reads a quarter of the bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/activation.h"
#include "kernels/conv.h"

namespace pareto::kernels {

// One channel: its input plane (h x w uint8) and weights.
struct U8DepthwisePlane {
  const uint8_t* x = nullptr;
  int32_t zero = 0;                   // x's zero point
  const int8_t* k = nullptr;          // kh x kw weight codes (the twin reads these)
  const int32_t* quads = nullptr;     // the same, as u8_depthwise_weight_quads gives them (the VNNI kernel reads these)
  const int32_t* row_sums = nullptr;  // kh sums: row_sums[i] = sum over j of k[i][j]
  float scale = 1, bias = 0;
  // The VNNI kernel only (the twin leaves it to its caller): each output
  // then through the activation, as apply_activation without a residual
  // would give it; a kind with a vector form (has_vector_form) or null.
  // u8_depthwise_planes applies the first plane's to all the planes where
  // it shares their set-up, each plane's own where it goes plane by plane
  // (the strip walk gives every plane of a conv the same).
  const Activation* act = nullptr;
};

// Output rows [oh_begin, oh_end) of the plane into dst (the plane's first
// row; out_w floats per row). Any stride, dilation and padding; the sums
// in int32 (exact: kh * kw <= kMaxU8DepthwiseTaps).
void u8_depthwise_rows_ref(const ConvParams& p, const U8DepthwisePlane& s, float* dst, int64_t oh_begin, int64_t oh_end);
constexpr int64_t kMaxU8DepthwiseTaps = 4096;
constexpr int64_t kMaxU8DepthwiseRows = 64;  // kh where the VNNI kernel runs
constexpr int64_t kMaxU8DepthwisePlaneRows = 16;  // out_h where u8_depthwise_planes runs

// Each kernel row's weights four at a time as the VNNI kernel multiplies
// them: kh x u8_depthwise_tap_groups(kw) int32, bytes past kw zero.
inline int64_t u8_depthwise_tap_groups(int64_t kw) { return (kw + 3) / 4; }
void u8_depthwise_weight_quads(const int8_t* k, int64_t kh, int64_t kw, int32_t* quads);

// Whether the VNNI kernel (avx512vnni::u8_depthwise_rows) runs p here:
// AVX-512 VNNI with VBMI, stride_w 1 or 2, dilation_w 1, kw <= 32,
// kh <= kMaxU8DepthwiseRows. Where not, depthwise convs keep the float
// plane kernels (the twin is for tests).
bool u8_depthwise_fast(const ConvParams& p);
// Scratch bytes the VNNI kernel needs for p (any row range).
size_t u8_depthwise_scratch_bytes(const ConvParams& p);

namespace avx512vnni {
// The same bits as u8_depthwise_rows_ref followed by apply_activation with
// s.act (where set), from s.quads (s.k unread).
void u8_depthwise_rows(const ConvParams& p, const U8DepthwisePlane& s, float* dst, uint8_t* scratch, int64_t oh_begin, int64_t oh_end);
// Every output row of count channels' planes into dst, plane after plane:
// the same bits as u8_depthwise_rows per plane, with the per-plane set-up
// done once (PP-OCR cls: 8-200 channels of 2-12 row maps) where the planes
// share one zero point and p.out_h <= kMaxU8DepthwisePlaneRows (else plane
// by plane).
void u8_depthwise_planes(const ConvParams& p, const U8DepthwisePlane* planes, int64_t count, float* dst, uint8_t* scratch);
int64_t u8_depthwise_row_bytes(const ConvParams& p);
}  // namespace avx512vnni

}  // namespace pareto::kernels
