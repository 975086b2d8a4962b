// Depthwise convolution, one output plane, AVX-512: the input plane is
// copied once into a zero-bordered scratch plane so every tap is a plain
// unaligned 16-float load, and each 16-wide block of outputs keeps its sum in
// a register across all kh x kw taps (the generic loop reads and writes the
// output row once per tap). Column stride 2 is split into even and odd
// phases when the scratch is filled, so its taps are contiguous loads too.
// Rows with stride_w 1 or 2 and dilation_w 1 only; the caller takes the
// generic path otherwise.
#include "kernels/x86/avx512_intrinsics.h"
// Products and sums rounded separately, as in the generic twin (the object
// is otherwise built with -ffp-contract=fast).
#pragma GCC optimize("fp-contract=off")

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/conv.h"
#include "kernels/depthwise_scratch.h"

namespace pareto::kernels::avx512 {

namespace {
constexpr int64_t kLanes = 16;
constexpr int kGroupRows = 4;  // output rows summed together where the row stride is 1
// Scratch geometry: kernels/depthwise_scratch.h.
int64_t phase_width(const ConvParams& p) { return depthwise_phase_width(p, kLanes); }

// NB adjacent 16-wide output blocks of one row starting at column ow. Each
// block sums like the generic twin: bias first, then every tap in kernel
// order as a multiply and a separate add (fp-contract is off in this file),
// so both give the same bits, and so do the plain graph's results against
// ONNX Runtime's. NB blocks side by side keep NB add chains in flight.
// Kernel rows that fall on the zero border are skipped, as the generic twin
// skips them (on short maps, 2-3 rows under a 5x5 kernel as in PP-OCR cls,
// they are most of the taps).
template <int KW, int S, int NB>
void sum_blocks(const ConvParams& p, const float* top, int64_t pw, const float* k, __m512 vbias, int64_t oh, int64_t ow, __m512 acc[NB]) {
  const int64_t kw = KW > 0 ? KW : p.kw;
  const int64_t row_floats = S * pw;
  for (int b = 0; b < NB; ++b) acc[b] = vbias;
  for (int64_t i = 0; i < p.kh; ++i) {
    const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
    if (ih < 0 || ih >= p.h) continue;
    const float* s = top + i * p.dil_h * row_floats + ow;
    const float* ki = k + i * kw;
    for (int64_t j = 0; j < kw; ++j) {
      const __m512 kv = _mm512_set1_ps(ki[j]);
      const float* sj = s + (j % S) * pw + j / S;  // tap j of output column c reads padded column c*S + j
#pragma GCC unroll 8
      for (int b = 0; b < NB; ++b) acc[b] = _mm512_add_ps(acc[b], _mm512_mul_ps(kv, _mm512_loadu_ps(sj + b * kLanes)));
    }
  }
}

// R output rows (oh0 ...) x NB blocks at once, for row stride and row
// dilation 1: each input vector is loaded once and used by every output row
// it falls in (kh of them), instead of once per row; the loads, not the
// arithmetic, bound the one-row version. Per output the taps still come in
// kernel order (input rows ascending = kernel rows ascending), so the sums
// are the twin's, bit for bit.
template <int KW, int S, int R, int NB>
void sum_row_group(const ConvParams& p, const float* scratch, int64_t pw, const float* k, __m512 vbias, int64_t oh0, int64_t ow, __m512 acc[R][NB]) {
  const int64_t kw = KW > 0 ? KW : p.kw;
  const int64_t row_floats = S * pw;
  for (int o = 0; o < R; ++o)
    for (int b = 0; b < NB; ++b) acc[o][b] = vbias;
  for (int64_t r = 0; r < R + p.kh - 1; ++r) {
    const float* s = scratch + (oh0 + r) * row_floats + ow;
    for (int64_t j = 0; j < kw; ++j) {
      const float* sj = s + (j % S) * pw + j / S;
      __m512 x[NB];
#pragma GCC unroll 8
      for (int b = 0; b < NB; ++b) x[b] = _mm512_loadu_ps(sj + b * kLanes);
#pragma GCC unroll 8
      for (int o = 0; o < R; ++o) {
        const int64_t i = r - o;  // the kernel row this input row is for output row oh0 + o
        if (i < 0 || i >= p.kh) continue;
        const __m512 kv = _mm512_set1_ps(k[i * kw + j]);
#pragma GCC unroll 8
        for (int b = 0; b < NB; ++b) acc[o][b] = _mm512_add_ps(acc[o][b], _mm512_mul_ps(kv, x[b]));
      }
    }
  }
}

// Stores v at d[0, count), count <= 16, writing nothing past it.
void store_block(float* d, __m512 v, int64_t count) {
  if (count == kLanes) {
    _mm512_storeu_ps(d, v);
    return;
  }
  _mm512_mask_storeu_ps(d, __mmask16((1u << count) - 1u), v);
}

// N blocks of a row from column ow, the lanes past out_w not stored.
template <int N>
void store_blocks(float* row, int64_t ow, int64_t out_w, const __m512 v[N]) {
  for (int b = 0; b < N; ++b) store_block(row + ow + b * kLanes, v[b], std::min(kLanes, out_w - ow - b * kLanes));
}

// Output rows [oh_begin, oh_end) in groups of R (row stride and dilation
// 1); returns the first row left for the one-row path.
template <int KW, int S>
int64_t sum_row_groups(const ConvParams& p, const float* scratch, int64_t pw, const float* k, __m512 vbias, float* dst, int64_t oh_begin,
                       int64_t oh_end) {
  constexpr int R = kGroupRows, NB = 3;
  if (p.stride_h != 1 || p.dil_h != 1) return oh_begin;
  const int64_t blocks = (p.out_w + kLanes - 1) / kLanes;
  int64_t oh0 = oh_begin;
  for (; oh0 + R <= oh_end; oh0 += R)
    for_each_block_chunk<NB>(blocks, [&]<int N>(int64_t blk) {
      __m512 acc[R][N];
      sum_row_group<KW, S, R, N>(p, scratch, pw, k, vbias, oh0, blk * kLanes, acc);
      for (int o = 0; o < R; ++o) store_blocks<N>(dst + (oh0 + o) * p.out_w, blk * kLanes, p.out_w, acc[o]);
    });
  return oh0;
}

// Output rows [oh_begin, oh_end) from the zero-bordered scratch plane (pw
// floats per row); KW > 0 fixes the kernel width at compile time (0: p.kw
// at run time). A row's blocks go six at a time, the rest together.
template <int KW, int S>
void sum_rows(const ConvParams& p, const float* scratch, int64_t pw, const float* k, __m512 vbias, float* dst, int64_t oh_begin, int64_t oh_end) {
  const int64_t blocks = (p.out_w + kLanes - 1) / kLanes;
  for (int64_t oh = sum_row_groups<KW, S>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); oh < oh_end; ++oh) {
    const float* top = scratch + oh * p.stride_h * S * pw;
    for_each_block_chunk<6>(blocks, [&]<int N>(int64_t blk) {
      __m512 v[N];
      sum_blocks<KW, S, N>(p, top, pw, k, vbias, oh, blk * kLanes, v);
      store_blocks<N>(dst + oh * p.out_w, blk * kLanes, p.out_w, v);
    });
  }
}

}  // namespace

void copy_even(const float* src, int64_t n, int64_t avail, float* dst) {
  // 16 outputs from two loads and one two-source permute. The last piece
  // loads only the floats inside src (masked loads) and stores only its
  // outputs: a row whose end falls inside the last 32 floats (every tap
  // column but the first of a stride-2 im2col) had 16 scalar copies.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  int64_t c = 0;
  for (; c + kLanes <= n && 2 * c + 2 * kLanes <= avail; c += kLanes)
    _mm512_storeu_ps(dst + c, _mm512_permutex2var_ps(_mm512_loadu_ps(src + 2 * c), even, _mm512_loadu_ps(src + 2 * c + kLanes)));
  for (; c < n; c += kLanes) {
    const int64_t left = avail - 2 * c;
    const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(left), src + 2 * c), hi = _mm512_maskz_loadu_ps(first_lanes(left - kLanes), src + 2 * c + kLanes);
    _mm512_mask_storeu_ps(dst + c, first_lanes(n - c), _mm512_permutex2var_ps(lo, even, hi));
  }
}

void maxpool_2x2_row(const float* r0, const float* r1, int64_t out_w, float* out) {
  // The scalar twin's taps in its order (row 0 left, right, row 1 left,
  // right), each through MAXPS(v, m) = v > m ? v : m: its own comparison,
  // so NaN and signed zeros come out as there.
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 lowest = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t c = 0; c < out_w; c += kLanes) {
    const int64_t left = 2 * (out_w - c);  // floats of each row this piece may read
    const __mmask16 m0 = first_lanes(left), m1 = first_lanes(left - kLanes);
    const __m512 a0 = _mm512_maskz_loadu_ps(m0, r0 + 2 * c), a1 = _mm512_maskz_loadu_ps(m1, r0 + 2 * c + kLanes);
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, r1 + 2 * c), b1 = _mm512_maskz_loadu_ps(m1, r1 + 2 * c + kLanes);
    __m512 m = _mm512_max_ps(_mm512_permutex2var_ps(a0, even, a1), lowest);
    m = _mm512_max_ps(_mm512_permutex2var_ps(a0, odd, a1), m);
    m = _mm512_max_ps(_mm512_permutex2var_ps(b0, even, b1), m);
    m = _mm512_max_ps(_mm512_permutex2var_ps(b0, odd, b1), m);
    _mm512_mask_storeu_ps(out + c, first_lanes(out_w - c), m);
  }
}

void copy_even_bytes(const uint8_t* src, int64_t n, int64_t avail, uint8_t* dst) {
  // 32 outputs from one load: each 16-bit word's low byte (VPMOVWB). The
  // last piece loads only the bytes inside src (a masked load) and stores
  // only its outputs: no scalar tail.
  for (int64_t c = 0; c < n; c += 32) {
    const int64_t m = std::min<int64_t>(32, n - c), bytes = std::min<int64_t>(64, avail - 2 * c);
    const __m512i v = bytes >= 64 ? _mm512_loadu_si512(src + 2 * c) : _mm512_maskz_loadu_epi8((__mmask64(1) << bytes) - 1, src + 2 * c);
    _mm256_mask_storeu_epi8(dst + c, m >= 32 ? __mmask32(0xFFFFFFFFu) : __mmask32((1u << m) - 1u), _mm512_cvtepi16_epi8(v));
  }
}

void depthwise_plane_rows(const ConvParams& p, const DepthwiseSource& src, const float* k, float bias, float* dst, float* scratch,
                          int64_t oh_begin, int64_t oh_end) {
  if (oh_begin >= oh_end) return;
  const int64_t pw = phase_width(p), stride = p.stride_w;
  // Only the row groups read the border rows (the one-row path skips them):
  // on short maps, where there are no groups, they are left unwritten.
  const bool groups = p.stride_h == 1 && p.dil_h == 1 && oh_end - oh_begin >= kGroupRows;
  const __m512 scale = _mm512_set1_ps(src.scale);
  const __m512i zero = _mm512_set1_epi32(src.zero);
  auto row_of = [&](int64_t ih) -> const float* {
    if (!src.q) return src.f + ih * p.w;
    const uint8_t* q = src.q + ih * p.w;
    int64_t c = 0;  // (q - zero) * scale, as dequantize_u8_ref
    for (; c + kLanes <= p.w; c += kLanes) {
      const __m512i v = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + c))), zero);
      _mm512_storeu_ps(src.row + c, _mm512_mul_ps(_mm512_cvtepi32_ps(v), scale));
    }
    for (; c < p.w; ++c) src.row[c] = float(int32_t(q[c]) - src.zero) * src.scale;
    return src.row;
  };
  // Scratch rows read by output rows [oh_begin, oh_end).
  const int64_t r_begin = oh_begin * p.stride_h, r_end = (oh_end - 1) * p.stride_h + (p.kh - 1) * p.dil_h + 1;
  fill_depthwise_scratch_rows(p, row_of, scratch, pw, groups, copy_even, r_begin, r_end);
  const __m512 vbias = _mm512_set1_ps(bias);
  if (stride == 2) {
    switch (p.kw) {
      case 3: sum_rows<3, 2>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
      case 5: sum_rows<5, 2>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
      default: sum_rows<0, 2>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
    }
    return;
  }
  switch (p.kw) {  // the tap loop unrolled for the common widths
    case 3: sum_rows<3, 1>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
    case 5: sum_rows<5, 1>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
    case 7: sum_rows<7, 1>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
    default: sum_rows<0, 1>(p, scratch, pw, k, vbias, dst, oh_begin, oh_end); break;
  }
}

void depthwise_plane(const ConvParams& p, const float* src, const float* k, float bias, float* dst, float* scratch) {
  DepthwiseSource s;
  s.f = src;
  depthwise_plane_rows(p, s, k, bias, dst, scratch, 0, p.out_h);
}

int64_t depthwise_scratch_floats(const ConvParams& p) { return depthwise_scratch_rows(p) * p.stride_w * phase_width(p); }

}  // namespace pareto::kernels::avx512
