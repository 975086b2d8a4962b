// Two 2x2 stride-2 transposed convs fused row by row (kernels/conv.h).
#include <algorithm>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "core/thread_pool.h"
#include "kernels/activation.h"
#include "kernels/conv.h"
#include "kernels/scratch.h"

namespace pareto::kernels {

namespace {

// The 2x2 form with no residual (the pair's epilogues take an activation only).
bool two_by_two(const ConvParams& p) { return conv_transpose_is_2x2(p) && !p.epilogue.residual; }

// The activation of the rows just written, per channel as the unfused
// driver applies it (elementwise either way).
void finish_rows(const ConvParams& p, float* rows0, int64_t plane, int64_t count) {
  if (!p.epilogue.active()) return;
  for (int64_t c = 0; c < p.c_out; ++c) apply_activation(p.epilogue.act, rows0 + c * plane, nullptr, count);
}

}  // namespace

ConvParams upsampling_2x2(int64_t n, int64_t c, int64_t h, int64_t w, int64_t c_out) {
  ConvParams p;
  p.n = n;
  p.c_in = c;
  p.c_out = c_out;
  p.h = h;
  p.w = w;
  p.kh = p.kw = p.stride_h = p.stride_w = 2;
  p.out_h = 2 * h;
  p.out_w = 2 * w;
  return p;
}

bool conv_transpose2x2_pair_fits(const ConvParams& a, const ConvParams& b) {
  return two_by_two(a) && two_by_two(b) && b.n == a.n && b.c_in == a.c_out && b.h == a.out_h && b.w == a.out_w;
}

void f32_conv_transpose2x2_pair(const ConvParams& a, const float* x, const float* wa, const float* ba, const ConvParams& b, const float* wb,
                                const float* bb, float* y) {
  if (!conv_transpose2x2_pair_fits(a, b)) fail_argument("the two transposed convs of a pair do not chain as 2x2 stride-2 upsamplings");
  const ConvTranspose2x2Row row_a = conv_transpose2x2_row_kernel(a), row_b = conv_transpose2x2_row_kernel(b);
  if (!row_a || !row_b) {  // no ISA kernel: the two convs apart
    Tensor mid = Tensor::empty(DType::f32, {a.n, a.c_out, a.out_h, a.out_w});  // checked against the limits
    f32_conv_transpose2d(a, x, wa, ba, mid.data<float>());
    f32_conv_transpose2d(b, mid.data<float>(), wb, bb, y);
    return;
  }
  // a's two output rows of one input row, as a conv whose output has two
  // rows: [c_out][2][out_w], where the row kernel writes them.
  ConvParams a_rows = a;
  a_rows.out_h = 2;
  const int64_t in_plane = a.h * a.w, mid_plane = 2 * a.out_w, out_plane = b.out_h * b.out_w;
  const int64_t ld_a = transpose_row_ld(a.w), ld_b = transpose_row_ld(b.w);
  parallel_for_balanced(a.n * a.h, [&](int64_t begin, int64_t end) {
    float* rows = thread_scratch<float, 4>(size_t(std::max(a.c_in * ld_a, b.c_in * ld_b)));
    float* mid = thread_scratch<float, 5>(size_t(a.c_out * mid_plane));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / a.h, ih = t % a.h;
      copy_transpose_rows(x + n * a.c_in * in_plane + ih * a.w, in_plane, a.c_in, a.w, ld_a, rows);
      row_a(a_rows, rows, ld_a, wa, ba, mid);
      finish_rows(a, mid, mid_plane, mid_plane);
      for (int64_t r = 0; r < 2; ++r) {  // a's output row 2 ih + r: b's input row, b's output rows 2 (2 ih + r) and the next
        copy_transpose_rows(mid + r * a.out_w, mid_plane, b.c_in, b.w, ld_b, rows);
        float* y_rows = y + n * b.c_out * out_plane + 2 * (2 * ih + r) * b.out_w;
        row_b(b, rows, ld_b, wb, bb, y_rows);
        finish_rows(b, y_rows, out_plane, 2 * b.out_w);
      }
    }
  });
}

}  // namespace pareto::kernels
