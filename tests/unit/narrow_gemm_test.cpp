// Few columns against many products: the GEMM reading a ragged last panel of
// padded B rows in place (a lowered conv's scratch), and the small-k MatMul
// over a constant B laid out in 32-column panels (PP-OCR rec's head).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"
#include "kernels/small_k_matmul.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;

namespace {

constexpr float kGuard = 12345.f;

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

}  // namespace

// B rows padded to a multiple of 16 columns, the pads NaN: read in place
// (b_rows_padded) the product has the bits of the packed ragged panel's,
// so no pad lane reaches C, at every kernel level, packed A or not, 1 and
// 2 threads; C's row tails and the words after it stay untouched.
TEST(NarrowGemm, PaddedRowsReadInPlaceMatchThePackedPanel) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (IsaLevel level : {IsaLevel::ref, IsaLevel::avx2, IsaLevel::avx512, IsaLevel::neon}) {
    if (!kernel_table_for(level)) continue;
    const KernelTable& table = *kernel_table_for(level);
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      for (int64_t n : {int64_t(1), int64_t(12), int64_t(17), int64_t(40), int64_t(47), int64_t(49), int64_t(100)})
        for (int64_t m : {int64_t(1), int64_t(9), int64_t(60)})
          for (int64_t k : {int64_t(1), int64_t(300), int64_t(2880)}) {
            const int64_t ld = (n + 15) / 16 * 16;
            std::vector<float> a = pareto::testing::uniform(size_t(m * k), 1), b = pareto::testing::uniform(size_t(k * ld), 2);
            for (int64_t r = 0; r < k; ++r)
              for (int64_t j = n; j < ld; ++j) b[size_t(r * ld + j)] = nan;
            GemmArgs g{.m = m, .n = n, .k = k, .a = a.data(), .lda = k, .b = b.data(), .ldb = ld, .beta = 1.f, .ldc = n + 3};
            const std::vector<float> c0 = pareto::testing::uniform(size_t(m * g.ldc), 3);
            std::vector<float> packed_panel = c0, in_place = c0;
            in_place.resize(in_place.size() + 16, kGuard);
            std::vector<float> packed(table.packed_a_floats(m, k));
            table.pack_a(g, packed.data());
            g.c = packed_panel.data();
            table.f32_gemm_packed(g, packed.data());
            GemmArgs h = g;
            h.b_rows_padded = true;
            h.c = in_place.data();
            table.f32_gemm_packed(h, packed.data());
            const std::string what = std::string(isa_level_name(level)) + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
                                     " k=" + std::to_string(k) + " threads=" + std::to_string(threads);
            ASSERT_TRUE(same_bits(packed_panel.data(), in_place.data(), packed_panel.size())) << what;
            for (size_t i = packed_panel.size(); i < in_place.size(); ++i) ASSERT_EQ(in_place[i], kGuard) << what;
            for (float v : in_place) ASSERT_FALSE(std::isnan(v)) << what << ": a pad lane reached C";
          }
    }
  }
  set_num_threads(1);
}

// y = a x B over B in panels: the bits of the 1x1-conv form (the pointwise
// kernel over B's rows) and the reference's sums within rounding, on rows,
// k and n around the 16- and 32-lane tiles, 1 and 2 threads, with guards.
TEST(NarrowGemm, SmallKPanelsMatchThePointwiseForm) {
  if (!small_k_gemm_applicable(1)) GTEST_SKIP() << "this CPU has neither AVX-512 nor NEON: the small-k kernels are built but not run";
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (int64_t rows : {int64_t(1), int64_t(5), int64_t(12), int64_t(40)})
      for (int64_t k : {int64_t(1), int64_t(7), int64_t(120), int64_t(128)})
        for (int64_t n : {int64_t(1), int64_t(31), int64_t(33), int64_t(64), int64_t(6625)}) {
          const std::vector<float> a = pareto::testing::uniform(size_t(rows * k), 4), b = pareto::testing::uniform(size_t(k * n), 5);
          std::vector<float> panels(small_k_panels_floats(k, n));
          pack_small_k_panels(b.data(), k, n, panels.data());
          std::vector<float> got(size_t(rows * n) + 16, kGuard), conv_form(size_t(rows * n));
          small_k_matmul_panels(a.data(), rows, k, panels.data(), n, got.data());
          ConvParams p;
          p.c_in = k;
          p.c_out = rows;
          p.h = p.out_h = 1;
          p.w = p.out_w = n;
          pointwise_conv(p, b.data(), a.data(), nullptr, conv_form.data());
          const std::string what = "rows=" + std::to_string(rows) + " k=" + std::to_string(k) + " n=" + std::to_string(n) +
                                   " threads=" + std::to_string(threads);
          ASSERT_TRUE(same_bits(conv_form.data(), got.data(), conv_form.size())) << what;
          for (size_t i = conv_form.size(); i < got.size(); ++i) ASSERT_EQ(got[i], kGuard) << what << ": a write past y";
          for (int64_t r = 0; r < rows; r += 3)
            for (int64_t j = 0; j < n; j += 7) {
              double sum = 0, mag = 0;
              for (int64_t c = 0; c < k; ++c) {
                sum += double(a[size_t(r * k + c)]) * b[size_t(c * n + j)];
                mag += std::abs(double(a[size_t(r * k + c)]) * b[size_t(c * n + j)]);
              }
              ASSERT_NEAR(got[size_t(r * n + j)], sum, 1e-5 * (1 + mag)) << what << " at " << r << ", " << j;
            }
        }
  }
  set_num_threads(1);
}
