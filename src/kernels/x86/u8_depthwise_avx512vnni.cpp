// The integer depthwise conv (kernels/u8_depthwise.h) with AVX-512 VNNI.
// Each input row the outputs need is copied once into scratch with its
// border filled with the zero point, so a tap outside the plane adds
// (zero - zero) * k once the zero point's share, zero * (sum of the valid
// kernel rows' weights), is taken off the sum. Four taps of 16 outputs are
// one VPDPBUSD: a byte permute (VBMI) turns one 64-byte load of the padded
// row into 16 lanes of four consecutive inputs (stride 2: every other
// start), against the four weights broadcast. The integer sums are exact,
// and the epilogue is the twin's (a product, then a sum), so the bits equal
// u8_depthwise_rows_ref's.
#include "kernels/x86/avx512_intrinsics.h"  // immintrin.h, GCC bug 105593's false warnings off
// Products and sums rounded separately, as in the twin.
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <array>
#include <cstring>

#include "core/error.h"
#include "kernels/depthwise_scratch.h"
#include "kernels/u8_depthwise.h"
#include "kernels/x86/activation_avx512.h"

namespace pareto::kernels::avx512vnni {

namespace {

constexpr int64_t kLanes = 16;
constexpr int kBlocks = 4;  // 16-output blocks summed together: independent VPDPBUSD chains

int64_t tap_groups(const ConvParams& p) { return u8_depthwise_tap_groups(p.kw); }

// Byte l * 4 + b of the permute takes input byte l * stride + b (stride 1 or 2).
template <int Stride>
__m512i quad_index() {
  alignas(64) static const auto table = [] {
    std::array<uint8_t, 64> idx{};
    for (int l = 0; l < 16; ++l)
      for (int b = 0; b < 4; ++b) idx[size_t(l * 4 + b)] = uint8_t(l * Stride + b);
    return idx;
  }();
  return _mm512_load_si512(table.data());
}

// NB blocks of one output row from column ow0: rows[r] the padded input
// row of valid kernel row r, quads[r] its weight quads.
template <int Stride, int NB>
void sum_blocks(const uint8_t* const* rows, const int32_t* const* quads, int64_t valid, int64_t groups, int64_t ow0, __m512i acc[NB]) {
  const __m512i idx = quad_index<Stride>();
  for (int b = 0; b < NB; ++b) acc[b] = _mm512_setzero_si512();
  for (int64_t r = 0; r < valid; ++r) {
    const uint8_t* row = rows[r] + ow0 * Stride;
    for (int64_t t = 0; t < groups; ++t) {
      const __m512i w = _mm512_set1_epi32(quads[r][t]);
#pragma GCC unroll 4
      for (int b = 0; b < NB; ++b) {
        const __m512i x = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(row + b * kLanes * Stride + 4 * t));
        acc[b] = _mm512_dpbusd_epi32(acc[b], x, w);
      }
    }
  }
}

// Input rows [lo, hi) that output rows [oh_begin, oh_end) read.
struct InputRows {
  int64_t lo, hi;
};
InputRows input_rows(const ConvParams& p, int64_t oh_begin, int64_t oh_end) {
  const int64_t lo = std::max<int64_t>(0, oh_begin * p.stride_h - p.pad_top);
  return {lo, std::max(lo, std::min<int64_t>(p.h, (oh_end - 1) * p.stride_h - p.pad_top + (p.kh - 1) * p.dil_h + 1))};
}

// Rows r of the plane x into padded scratch rows, inside their zero-point borders.
void copy_rows(const ConvParams& p, const uint8_t* x, uint8_t* scratch, int64_t pw, InputRows r) {
  for (int64_t ih = r.lo; ih < r.hi; ++ih) std::memcpy(scratch + ih * pw + p.pad_left, x + ih * p.w, size_t(p.w));
}

// The zero point over whole padded rows r: one call for all of them (PP-OCR
// cls's rows are 96-192 bytes, and three calls per row, the two borders
// apart, cost more than the bytes they moved).
void fill_rows(uint8_t* scratch, int64_t pw, InputRows r, int32_t zero) {
  if (r.lo < r.hi) std::memset(scratch + r.lo * pw, zero, size_t((r.hi - r.lo) * pw));
}

// Output row oh's kernel rows inside the plane: their indices, ascending.
int64_t valid_kernel_rows(const ConvParams& p, int64_t oh, int64_t* kernel_rows) {
  int64_t valid = 0;
  for (int64_t i = 0; i < p.kh; ++i) {
    const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
    if (ih >= 0 && ih < p.h) kernel_rows[valid++] = i;
  }
  return valid;
}

// One block of 16 outputs from column ow of a row (out: the row's first):
// (sum - zero share) * scale + bias, then the activation, stored up to out_w.
template <class Act>
void store_block(const ConvParams& p, __m512i sum, __m512i fix, __m512 scale, __m512 bias, int64_t ow, float* out, Act one) {
  const int64_t left = p.out_w - ow;
  const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(sum, fix));
  _mm512_mask_storeu_ps(out + ow, left >= kLanes ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1u),
                        one(_mm512_add_ps(_mm512_mul_ps(v, scale), bias)));
}

// Output row oh (its `valid` kernel rows in kernel_rows) from the padded rows in scratch into out.
template <int Stride, class Act>
void sum_row(const ConvParams& p, const U8DepthwisePlane& s, const uint8_t* scratch, int64_t pw, int64_t oh, const int64_t* kernel_rows,
             int64_t valid, float* out, Act one) {
  const int64_t groups = tap_groups(p), blocks = (p.out_w + kLanes - 1) / kLanes;
  const __m512 scale = _mm512_set1_ps(s.scale), bias = _mm512_set1_ps(s.bias);
  const uint8_t* rows[kMaxU8DepthwiseRows];
  const int32_t* quads[kMaxU8DepthwiseRows];
  int64_t zero_share = 0;
  for (int64_t r = 0; r < valid; ++r) {
    const int64_t i = kernel_rows[r];
    rows[r] = scratch + (oh * p.stride_h - p.pad_top + i * p.dil_h) * pw;
    quads[r] = s.quads + i * groups;
    zero_share += int64_t(s.zero) * s.row_sums[i];
  }
  const __m512i fix = _mm512_set1_epi32(int32_t(zero_share));
  for_each_block_chunk<kBlocks>(blocks, [&]<int N>(int64_t blk) {
    __m512i acc[N];
    sum_blocks<Stride, N>(rows, quads, valid, groups, blk * kLanes, acc);
    for (int b = 0; b < N; ++b) store_block(p, acc[b], fix, scale, bias, (blk + b) * kLanes, out, one);
  });
}

// Output rows [oh_begin, oh_end) from the padded rows in scratch.
template <int Stride, class Act>
void sum_rows(const ConvParams& p, const U8DepthwisePlane& s, float* dst, const uint8_t* scratch, int64_t pw, int64_t oh_begin, int64_t oh_end,
              Act one) {
  int64_t kernel_rows[kMaxU8DepthwiseRows];
  for (int64_t oh = oh_begin; oh < oh_end; ++oh)
    sum_row<Stride>(p, s, scratch, pw, oh, kernel_rows, valid_kernel_rows(p, oh, kernel_rows), dst + oh * p.out_w, one);
}

// All OH output rows of a short plane (dilation 1 down the rows), NB
// 16-output blocks from column ow0: each input row's quads permuted once
// for every output row that reads it, not once per output row (PP-OCR
// cls's 2-4 row maps under 5x5 kernels read each input row from two to
// four output rows). The same integer sums as sum_row's, so the same bits.
template <int Stride, int OH, int NB, class Act>
void sum_short_blocks(const ConvParams& p, const U8DepthwisePlane& s, const uint8_t* scratch, int64_t pw, InputRows rows, int64_t ow0,
                      const __m512i* fix, float* out, Act one) {
  const int64_t groups = tap_groups(p);
  const __m512i idx = quad_index<Stride>();
  __m512i acc[OH][NB];
  for (int oh = 0; oh < OH; ++oh)
    for (int b = 0; b < NB; ++b) acc[oh][b] = _mm512_setzero_si512();
  for (int64_t ih = rows.lo; ih < rows.hi; ++ih) {  // the rows copied in (a row no output reads is not)
    const uint8_t* row = scratch + ih * pw + ow0 * Stride;
    for (int64_t t = 0; t < groups; ++t) {
      __m512i x[NB];
      for (int b = 0; b < NB; ++b) x[b] = _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(row + b * kLanes * Stride + 4 * t));
      for (int oh = 0; oh < OH; ++oh) {
        const int64_t i = ih + p.pad_top - oh * p.stride_h;  // the kernel row that meets input row ih
        if (i < 0 || i >= p.kh) continue;
        const __m512i w = _mm512_set1_epi32(s.quads[i * groups + t]);
        for (int b = 0; b < NB; ++b) acc[oh][b] = _mm512_dpbusd_epi32(acc[oh][b], x[b], w);
      }
    }
  }
  const __m512 scale = _mm512_set1_ps(s.scale), bias = _mm512_set1_ps(s.bias);
  for (int oh = 0; oh < OH; ++oh)
    for (int b = 0; b < NB; ++b) store_block(p, acc[oh][b], fix[oh], scale, bias, ow0 + b * kLanes, out + oh * p.out_w, one);
}

// A short plane (p.out_h == OH) from its padded rows in scratch into out.
template <int Stride, int OH, class Act>
void sum_short_plane(const ConvParams& p, const U8DepthwisePlane& s, const uint8_t* scratch, int64_t pw, InputRows rows, float* out, Act one) {
  __m512i fix[OH];
  for (int oh = 0; oh < OH; ++oh) {
    int64_t zero_share = 0;  // the zero point times the weights of the kernel rows inside the plane, as sum_row's
    for (int64_t i = 0; i < p.kh; ++i) {
      const int64_t ih = oh * p.stride_h - p.pad_top + i;
      if (ih >= 0 && ih < p.h) zero_share += int64_t(s.zero) * s.row_sums[i];
    }
    fix[oh] = _mm512_set1_epi32(int32_t(zero_share));
  }
  const int64_t blocks = (p.out_w + kLanes - 1) / kLanes;
  for_each_block_chunk<kBlocks>(blocks, [&]<int N>(int64_t blk) { sum_short_blocks<Stride, OH, N>(p, s, scratch, pw, rows, blk * kLanes, fix, out, one); });
}

// Whole planes of several channels: the kernel rows of each output row
// found once, the zero-point fill of the padded rows done once (the
// channels share the zero point, and each one's bytes then overwrite only
// the rows' insides).
template <int Stride, class Act>
void sum_planes(const ConvParams& p, const U8DepthwisePlane* planes, int64_t count, float* dst, uint8_t* scratch, int64_t pw, InputRows rows,
                Act one) {
  int64_t kernel_rows[kMaxU8DepthwisePlaneRows][kMaxU8DepthwiseRows];
  int64_t valid[kMaxU8DepthwisePlaneRows];
  for (int64_t oh = 0; oh < p.out_h; ++oh) valid[oh] = valid_kernel_rows(p, oh, kernel_rows[oh]);
  for (int64_t k = 0; k < count; ++k) {
    const U8DepthwisePlane& s = planes[k];
    copy_rows(p, s.x, scratch, pw, rows);
    float* out = dst + k * p.out_h * p.out_w;
    if (p.dil_h == 1 && p.out_h <= 4) {  // the rows of a short plane at once
      switch (p.out_h) {
        case 1: sum_short_plane<Stride, 1>(p, s, scratch, pw, rows, out, one); continue;
        case 2: sum_short_plane<Stride, 2>(p, s, scratch, pw, rows, out, one); continue;
        case 3: sum_short_plane<Stride, 3>(p, s, scratch, pw, rows, out, one); continue;
        default: sum_short_plane<Stride, 4>(p, s, scratch, pw, rows, out, one); continue;
      }
    }
    for (int64_t oh = 0; oh < p.out_h; ++oh) sum_row<Stride>(p, s, scratch, pw, oh, kernel_rows[oh], valid[oh], out + oh * p.out_w, one);
  }
}

// Calls body(one) with `one` the plane's activation on a vector (the
// identity where it has none); false where it has no vector form.
template <class Body>
bool with_plane_activation(const U8DepthwisePlane& s, Body&& body) {
  if (!s.act) {
    body([](__m512 v) { return v; });
    return true;
  }
  return avx512::with_vector_activation(*s.act, body);
}

}  // namespace

int64_t u8_depthwise_row_bytes(const ConvParams& p) {
  const int64_t blocks = (p.out_w + kLanes - 1) / kLanes;
  const int64_t read_end = (blocks - 1) * kLanes * p.stride_w + 4 * (tap_groups(p) - 1) + 64;  // the last 64-byte load's end
  return std::max(read_end, p.pad_left + p.w);
}

void u8_depthwise_rows(const ConvParams& p, const U8DepthwisePlane& s, float* dst, uint8_t* scratch, int64_t oh_begin, int64_t oh_end) {
  if (oh_begin >= oh_end) return;
  const int64_t pw = u8_depthwise_row_bytes(p);
  const InputRows rows = input_rows(p, oh_begin, oh_end);  // padded into scratch row ih
  fill_rows(scratch, pw, rows, s.zero);
  copy_rows(p, s.x, scratch, pw, rows);
  const bool vector = with_plane_activation(s, [&](auto one) {
    if (p.stride_w == 1) sum_rows<1>(p, s, dst, scratch, pw, oh_begin, oh_end, one);
    else sum_rows<2>(p, s, dst, scratch, pw, oh_begin, oh_end, one);
  });
  if (!vector) fail(StatusCode::internal, "u8_depthwise_rows: an activation without a vector form");
}

void u8_depthwise_planes(const ConvParams& p, const U8DepthwisePlane* planes, int64_t count, float* dst, uint8_t* scratch) {
  if (count <= 0) return;
  // Outside what the shared fill and the fixed row tables cover (the strip
  // walk never calls it so): plane by plane, the same bits.
  bool shared = p.out_h <= kMaxU8DepthwisePlaneRows && p.kh <= kMaxU8DepthwiseRows;
  for (int64_t k = 1; k < count && shared; ++k) shared = planes[k].zero == planes[0].zero;
  if (!shared) {
    for (int64_t k = 0; k < count; ++k) u8_depthwise_rows(p, planes[k], dst + k * p.out_h * p.out_w, scratch, 0, p.out_h);
    return;
  }
  const int64_t pw = u8_depthwise_row_bytes(p);
  const InputRows rows = input_rows(p, 0, p.out_h);
  fill_rows(scratch, pw, rows, planes[0].zero);
  const bool vector = with_plane_activation(planes[0], [&](auto one) {
    if (p.stride_w == 1) sum_planes<1>(p, planes, count, dst, scratch, pw, rows, one);
    else sum_planes<2>(p, planes, count, dst, scratch, pw, rows, one);
  });
  if (!vector) fail(StatusCode::internal, "u8_depthwise_planes: an activation without a vector form");
}

}  // namespace pareto::kernels::avx512vnni
