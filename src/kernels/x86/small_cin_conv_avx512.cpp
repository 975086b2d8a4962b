// Direct convolution for convs with few input channels: the image stems
// whose output fits an L2 (PP-OCR cls 3 -> 8 and rec, 3x3 stride 2; det's
// 16 x 320 x 320 stays lowered, kMaxSmallCinOutputs). Lowered to a GEMM they
// are all lowering: k = 27 rows of columns written and read for 8-16
// multiply-adds per float, and at stride 2 every column row a strided
// copy (cls's stem spent 40% of its 15-20 us in those copies). Here each
// output row reads its input rows split into stride phases (x[s*m + φ]
// for phase φ), so every tap is a plain unaligned load at an offset, and
// 8 output channels x up to 3 vectors of 16 pixels sum in registers: per
// tap and channel one broadcast weight (read from the weights as given,
// nothing packed per call) feeds up to 3 FMAs.
// The sums: the taps in (channel, kernel row, kernel column) order, one
// FMA each, then the bias, as the lowered GEMM's small-k tile: the same
// bits for finite weights (taps on padding rows are skipped, where the GEMM
// adds their zero products: an infinite or NaN weight makes those NaN there,
// as it does not in the direct loops of f32_conv2d_ref either).
#include "kernels/x86/avx512_intrinsics.h"
#pragma GCC optimize("fp-contract=off")  // the activation as its twin: products and sums rounded apart

#include <algorithm>
#include <array>
#include <cstring>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/scratch.h"
#include "kernels/x86/activation_avx512.h"

namespace pareto::kernels::avx512 {

namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kGroup = 8;        // output channels summed together
constexpr int64_t kMaxVectors = 3;   // pixel vectors per block: 24 accumulators
constexpr int64_t kMaxTapColumns = 128;  // kw <= c_in * kh * kw <= 128 (small_cin_direct_applicable)

// Where tap column j reads in the phase rows: phase φ, offset q (pixel
// ow reads phase row φ at ow + q + margin).
struct TapColumn {
  int64_t phase = 0, offset = 0;
};

// The geometry of one output row's phase rows, the same for every row.
struct PhaseLayout {
  int64_t stride = 1, margin = 0, len = 0, ld = 0;
  std::array<TapColumn, kMaxTapColumns> taps;  // kw of them (no allocation per call)
};

PhaseLayout phase_layout(const ConvParams& p) {
  PhaseLayout l;
  l.stride = p.stride_w;
  int64_t lowest = 0, highest = 0;
  for (int64_t j = 0; j < p.kw; ++j) {
    const int64_t t = j - p.pad_left;  // the column read is stride * ow + t
    TapColumn c;
    c.phase = ((t % l.stride) + l.stride) % l.stride;
    c.offset = (t - c.phase) / l.stride;
    lowest = std::min(lowest, c.offset);
    highest = std::max(highest, c.offset);
    l.taps[size_t(j)] = c;
  }
  l.margin = -lowest;
  const int64_t padded_w = (p.out_w + kLanes - 1) / kLanes * kLanes;  // whole vectors are loaded
  l.len = padded_w + highest + l.margin;
  l.ld = (l.len + kLanes - 1) / kLanes * kLanes + kLanes;
  return l;
}

// Input row `row` as its phase rows: phases[φ * ld + m] = row[stride *
// (m - margin) + φ] where that is inside the row, else 0, for m < len
// (stores may run to a vector past len: ld leaves room). Stride 2 splits
// 32 floats into both phases with two permutes.
void fill_phase_rows(const float* row, int64_t w, const PhaseLayout& l, float* phases) {
  for (int64_t phase = 0; phase < l.stride; ++phase) std::fill(phases + phase * l.ld, phases + phase * l.ld + l.margin, 0.f);
  if (l.stride == 1) {
    const int64_t inside = std::min(w, l.len - l.margin);
    std::memcpy(phases + l.margin, row, sizeof(float) * size_t(inside));
    std::fill(phases + l.margin + inside, phases + l.len, 0.f);
    return;
  }
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t m = l.margin; m < l.len; m += kLanes) {
    const int64_t at = 2 * (m - l.margin), left = w - at;  // row[at, w) is inside; past it, zeros
    const __m512 lo = _mm512_maskz_loadu_ps(first_lanes(left), row + std::min(at, w));
    const __m512 hi = _mm512_maskz_loadu_ps(first_lanes(left - kLanes), row + std::min(at + kLanes, w));
    _mm512_storeu_ps(phases + m, _mm512_permutex2var_ps(lo, even, hi));
    _mm512_storeu_ps(phases + l.ld + m, _mm512_permutex2var_ps(lo, odd, hi));
  }
}

// One tap that lands inside the input: its phase row and its index in a
// channel's weights [c][i][j].
struct Tap {
  const float* src;
  int64_t index;
};

// A group's 8 channels: each one's weights and bias (a group past c_out
// repeats its last channel, whose sums are then not stored).
struct ChannelGroup {
  const float* weights[kGroup];
  float bias[kGroup];
};

// V vectors of pixels from ow0 for the group's 8 channels: the taps, then
// the bias (null: none), then `finish` (the activation in registers, or
// the identity where small_cin_conv applies it after the stores: a
// residual, or a kind without a vector form), stored to the channels that
// exist.
template <int V, class Finish>
void sum_block(const Tap* taps, int64_t count, const ChannelGroup& group, bool has_bias, int64_t ow0, int64_t pixels, int64_t channels,
               float* const* out, Finish finish) {
  __m512 acc[kGroup][V];
  for (int64_t k = 0; k < kGroup; ++k)
    for (int v = 0; v < V; ++v) acc[k][v] = _mm512_setzero_ps();
  for (int64_t t = 0; t < count; ++t) {
    __m512 x[V];
    for (int v = 0; v < V; ++v) x[v] = _mm512_loadu_ps(taps[t].src + ow0 + v * kLanes);
    const int64_t at = taps[t].index;
    for (int64_t k = 0; k < kGroup; ++k) {
      const __m512 b = _mm512_set1_ps(group.weights[k][at]);  // the plain weights: nothing packed per call
      for (int v = 0; v < V; ++v) acc[k][v] = _mm512_fmadd_ps(x[v], b, acc[k][v]);
    }
  }
  if (has_bias)  // the bias joins the finished sum, as in the lowered GEMM
    for (int64_t k = 0; k < kGroup; ++k)
      for (int v = 0; v < V; ++v) acc[k][v] = _mm512_add_ps(acc[k][v], _mm512_set1_ps(group.bias[k]));
  for (int64_t k = 0; k < channels; ++k)
    for (int v = 0; v < V; ++v) _mm512_mask_storeu_ps(out[k] + ow0 + v * kLanes, first_lanes(pixels - v * kLanes), finish(acc[k][v]));
}

// A thread's phase rows: channel c's input row ih in slot ih % kh (an
// output row reads kh consecutive rows, so they never share a slot), kept
// while the next output rows read it again (kh - stride_h of them).
struct RowCache {
  float* rows;
  int64_t* held;  // the input row in each (channel, slot), -1 for none
  const float* phases(const ConvParams& p, const PhaseLayout& l, const float* x, int64_t n, int64_t c, int64_t ih) {
    const int64_t slot = c * p.kh + ih % p.kh;
    float* r = rows + slot * l.stride * l.ld;
    if (held[slot] != n * p.h + ih) {
      fill_phase_rows(x + ((n * p.c_in + c) * p.h + ih) * p.w, p.w, l, r);
      held[slot] = n * p.h + ih;
    }
    return r;
  }
};

// Output row oh of image n (every channel): the phase rows of each input
// row it reads, then the channel groups in blocks of up to 3 vectors.
template <class Finish>
void output_row(const ConvParams& p, const PhaseLayout& l, const float* x, const float* w, const float* bias, float* y, int64_t n,
                int64_t oh, RowCache& cache, Tap* taps, Finish finish) {
  const int64_t kdim = p.c_in * p.kh * p.kw, groups = (p.c_out + kGroup - 1) / kGroup;
  int64_t count = 0;  // the taps on rows inside the input, in tap order
  for (int64_t c = 0; c < p.c_in; ++c)
    for (int64_t i = 0; i < p.kh; ++i) {
      const int64_t ih = oh * p.stride_h - p.pad_top + i;
      if (ih < 0 || ih >= p.h) continue;
      const float* phases = cache.phases(p, l, x, n, c, ih);
      for (int64_t j = 0; j < p.kw; ++j) {
        const TapColumn& tc = l.taps[size_t(j)];
        taps[count].src = phases + tc.phase * l.ld + tc.offset + l.margin;
        taps[count].index = (c * p.kh + i) * p.kw + j;
        ++count;
      }
    }
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t channels = std::min(kGroup, p.c_out - g * kGroup);
    ChannelGroup group;
    float* out[kGroup];
    for (int64_t k = 0; k < kGroup; ++k) {
      const int64_t oc = g * kGroup + std::min(k, channels - 1);
      group.weights[k] = w + oc * kdim;
      group.bias[k] = bias ? bias[oc] : 0.f;
      out[k] = y + ((n * p.c_out + oc) * p.out_h + oh) * p.out_w;
    }
    for (int64_t ow0 = 0; ow0 < p.out_w; ow0 += kMaxVectors * kLanes) {
      const int64_t pixels = std::min(kMaxVectors * kLanes, p.out_w - ow0);
      if (pixels > 2 * kLanes) sum_block<3>(taps, count, group, bias != nullptr, ow0, pixels, channels, out, finish);
      else if (pixels > kLanes) sum_block<2>(taps, count, group, bias != nullptr, ow0, pixels, channels, out, finish);
      else sum_block<1>(taps, count, group, bias != nullptr, ow0, pixels, channels, out, finish);
    }
  }
}

}  // namespace

void small_cin_conv(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  const PhaseLayout l = phase_layout(p);
  const int64_t kdim = p.c_in * p.kh * p.kw;
  const Epilogue& e = p.epilogue;
  const bool in_registers = !e.residual && has_vector_form(e.act.kind);
  auto rows_range = [&](auto finish) {
    parallel_for_balanced(p.n * p.out_h, [&](int64_t begin, int64_t end) {
      RowCache cache{thread_scratch<float, 10>(size_t(kdim / p.kw * l.stride * l.ld)), thread_scratch<int64_t, 0>(size_t(kdim / p.kw))};
      std::fill(cache.held, cache.held + kdim / p.kw, int64_t(-1));
      Tap* taps = thread_scratch<Tap, 0>(size_t(kdim));
      for (int64_t r = begin; r < end; ++r) {
        const int64_t n = r / p.out_h, oh = r % p.out_h;
        output_row(p, l, x, w, bias, y, n, oh, cache, taps, finish);
        if (e.active() && !in_registers)  // the row's outputs are still in cache
          for (int64_t oc = 0; oc < p.c_out; ++oc) {
            float* o = y + ((n * p.c_out + oc) * p.out_h + oh) * p.out_w;
            kernels::apply_activation(e.act, o, e.residual ? e.residual + (o - y) : nullptr, p.out_w);
          }
      }
    });
  };
  if (in_registers && e.active()) {
    with_vector_activation(e.act, [&](auto one) { rows_range(one); });
  } else {
    rows_range([](__m512 v) { return v; });
  }
}

}  // namespace pareto::kernels::avx512
