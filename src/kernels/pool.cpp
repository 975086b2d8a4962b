#include <algorithm>
#include <limits>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"

namespace pareto::kernels {

namespace {

// The output columns whose whole window lies inside the input row: [lo, hi).
void interior_columns(const PoolParams& p, int64_t& lo, int64_t& hi) {
  const int64_t extent = (p.kw - 1) * p.dil_w;
  lo = std::min(p.out_w, (p.pad_left + p.stride_w - 1) / p.stride_w);
  hi = p.w - 1 - extent + p.pad_left < 0 ? 0 : (p.w - 1 - extent + p.pad_left) / p.stride_w + 1;
  hi = std::max(lo, std::min(hi, p.out_w));
}

// One output row of one channel: the running maximum over the window's
// rows and taps. Interior columns need no bounds checks, so the inner loop
// over columns is a plain strided maximum the compiler vectorizes.
void maxpool_row(const PoolParams& p, const float* src, int64_t oh, int64_t lo, int64_t hi, float* out) {
  const float lowest = -std::numeric_limits<float>::infinity();
  std::fill(out, out + p.out_w, lowest);
  for (int64_t i = 0; i < p.kh; ++i) {
    const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
    if (ih < 0 || ih >= p.h) continue;
    const float* row = src + ih * p.w;
    for (int64_t j = 0; j < p.kw; ++j) {
      const int64_t shift = j * p.dil_w - p.pad_left;
      for (int64_t ow = lo; ow < hi; ++ow) {
        const float v = row[ow * p.stride_w + shift];
        out[ow] = v > out[ow] ? v : out[ow];
      }
      auto border = [&](int64_t from, int64_t to) {  // columns whose window crosses the padding: checked
        for (int64_t ow = from; ow < to; ++ow) {
          const int64_t iw = ow * p.stride_w + shift;
          if (iw >= 0 && iw < p.w && row[iw] > out[ow]) out[ow] = row[iw];
        }
      };
      border(0, lo);
      border(hi, p.out_w);
    }
  }
}

// 2x2 windows at stride 2 without padding or dilation (CNN downsampling;
// PP-OCR cls): the general loop's runtime taps and strides kept the
// compiler from vectorizing it (1.2 ns per output). The four taps in its
// order (row 0 left, right, row 1 left, right), each kept only when
// greater, so the results are its own, NaN and signed zeros included.
bool maxpool_2x2_stride2(const PoolParams& p) {
  return p.kh == 2 && p.kw == 2 && p.stride_h == 2 && p.stride_w == 2 && p.dil_h == 1 && p.dil_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
         2 * p.out_h <= p.h && 2 * p.out_w <= p.w;
}

}  // namespace

void maxpool_2x2_row_ref(const float* r0, const float* r1, int64_t out_w, float* out) {
  const float lowest = -std::numeric_limits<float>::infinity();
  for (int64_t ow = 0; ow < out_w; ++ow) {
    float m = lowest;
    for (float v : {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]}) m = v > m ? v : m;
    out[ow] = m;
  }
}

namespace {

void maxpool_2x2_row(const float* r0, const float* r1, int64_t out_w, float* out) {
  if constexpr (kBuildX86)
    if (kernel_table().level == IsaLevel::avx512) return avx512::maxpool_2x2_row(r0, r1, out_w, out);
  maxpool_2x2_row_ref(r0, r1, out_w, out);
}

}  // namespace

void plane_sums(const float* s, int64_t n, int64_t stride, int64_t count, float* out) {
  if constexpr (kBuildX86)
    if (kernel_table().level == IsaLevel::avx512) return avx512::plane_sums(s, n, stride, count, out);
  for (int64_t p = 0; p < count; ++p) out[p] = plane_sum_ref(s + p * stride, n);
}

int64_t plane_sum_chunk(int64_t n) {
  if (n < 1024) return std::max<int64_t>(n, 1);
  const int64_t chunks = 2 * ((n + 8191) / 8192);  // even: half of them per thread at 2 threads
  return ((n + chunks - 1) / chunks + 15) / 16 * 16;
}

float plane_mean_ref(const float* s, int64_t n) {
  const int64_t chunk = plane_sum_chunk(n);
  float sum = plane_sum_ref(s, std::min(chunk, n));  // the first chunk's sum as it is (0 + -0 would be +0)
  for (int64_t at = chunk; at < n; at += chunk) sum += plane_sum_ref(s + at, std::min(chunk, n - at));
  return sum / float(n);
}

void plane_means(const float* s, int64_t n, int64_t count, float* out) {
  if (count <= 0) return;
  const int64_t chunk = plane_sum_chunk(n), chunks = n > 0 ? (n + chunk - 1) / chunk : 1;
  if (chunks == 1) {
    parallel_for(count, [&](int64_t begin, int64_t end) {
      plane_sums(s + begin * n, n, n, end - begin, out + begin);
      for (int64_t i = begin; i < end; ++i) out[i] /= float(n);
    });
    return;
  }
  // Chunk c of planes [16 g, 16 g + 16) per task, chunk-major; then the
  // chunk sums of each plane added in order.
  const int64_t groups = (count + 15) / 16;
  thread_local std::vector<float> partial;
  partial.resize(size_t(chunks * count));
  float* part = partial.data();
  parallel_for(chunks * groups, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t c = t / groups, p0 = t % groups * 16, at = c * chunk;
      plane_sums(s + p0 * n + at, std::min(chunk, n - at), n, std::min<int64_t>(16, count - p0), part + c * count + p0);
    }
  });
  for (int64_t p = 0; p < count; ++p) {
    float sum = part[p];
    for (int64_t c = 1; c < chunks; ++c) sum += part[c * count + p];
    out[p] = sum / float(n);
  }
}

void f32_maxpool2d(const PoolParams& p, const float* x, float* y, int64_t* indices) {
  if (indices) return f32_maxpool2d_ref(p, x, y, indices);
  int64_t lo, hi;
  interior_columns(p, lo, hi);
  const int64_t planes = p.n * p.c, in_plane = p.h * p.w, out_plane = p.out_h * p.out_w;
  const bool two_by_two = maxpool_2x2_stride2(p);
  auto planes_range = [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc)
      for (int64_t oh = 0; oh < p.out_h; ++oh) {
        float* out = y + nc * out_plane + oh * p.out_w;
        const float* src = x + nc * in_plane;
        if (two_by_two) maxpool_2x2_row(src + 2 * oh * p.w, src + (2 * oh + 1) * p.w, p.out_w, out);
        else maxpool_row(p, src, oh, lo, hi, out);
      }
  };
  // Waking the pool costs more than a small pool takes.
  if (planes * out_plane * p.kh * p.kw < (int64_t(1) << 16)) return planes_range(0, planes);
  parallel_for(planes, planes_range);
}

}  // namespace pareto::kernels
