// Repacked Q4_0 / Q8_0: packing keeps every weight (bit-exact dequantization), the
// SIMD matrix kernel matches the reference on awkward row and token counts
// with 1 and 2 threads, and matmul_weights on a packed matrix tracks the
// exact product.
#include "kernels/packed_weights.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/matmul_q.h"
#include "kernels/quant_formats.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::have_vnni;
using pareto::testing::randn;

namespace {

struct Packed {
  std::vector<uint8_t> ggml, qs;
  std::vector<uint16_t> scales;
  int64_t rows, cols;
  int bits;
  Packed(int bits_, int64_t rows_, int64_t cols_, uint32_t seed) : rows(rows_), cols(cols_), bits(bits_) {
    auto w = randn(size_t(rows * cols), seed, 0.05f);
    const size_t rb = ggml_row_size(type(), cols);
    ggml.resize(rb * size_t(rows));
    for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type(), w.data() + r * cols, ggml.data() + size_t(r) * rb, cols);
    // Exact sizes: a kernel reading past either buffer is caught by ASan.
    qs.resize(packed_qs_bytes(rows, cols, bits));
    scales.resize(size_t(rows * cols / 32));
    if (bits == 4)
      pack_q4_0_rows(ggml.data(), cols, 0, rows, qs.data(), scales.data());
    else
      pack_q8_0_rows(ggml.data(), cols, 0, rows, qs.data(), scales.data());
  }
  uint32_t type() const { return uint32_t(bits == 4 ? GgmlType::q4_0 : GgmlType::q8_0); }
  PackedView view() const { return PackedView{qs.data(), scales.data(), rows, cols, bits}; }
  Q8Panel quantize(Q8PanelBuffer& buf, const std::vector<float>& x, int64_t tokens) const {
    return buf.quantize(x.data(), tokens, cols, packed_offset(bits));
  }
};

const int64_t kRows[] = {1, 2, 7, 31, 33, 255};
const int64_t kTokens[] = {1, 2, 3, 4, 5, 17};

}  // namespace

TEST(PackedWeights, PackingKeepsEveryWeight) {
  for (int bits : {4, 8})
    for (int64_t cols : {512, 1536, 4096}) {
      Packed p(bits, 7, cols, 3);
      std::vector<float> want(static_cast<size_t>(cols)), got(static_cast<size_t>(cols));
      const size_t rb = ggml_row_size(p.type(), cols);
      for (int64_t r = 0; r < p.rows; ++r) {
        dequantize_row_ref(p.type(), p.ggml.data() + size_t(r) * rb, want.data(), cols);
        packed_row(p.view(), r, got.data());
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << "cols " << cols << " row " << r;
      }
    }
}

TEST(PackedWeights, ReferenceTracksExactProduct) {
  for (int bits : {4, 8}) {
    Packed p(bits, 9, 1024, 5);
    auto x = randn(size_t(3 * p.cols), 6);
    Q8PanelBuffer buf;
    Q8Panel panel = p.quantize(buf, x, 3);
    std::vector<float> y(size_t(3 * p.rows)), row(static_cast<size_t>(p.cols));
    packed_gemm_ref(p.view(), 0, p.rows, panel, y.data(), p.rows);
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t r = 0; r < p.rows; ++r) {
        packed_row(p.view(), r, row.data());
        double exact = 0, mag = 0;
        for (int64_t k = 0; k < p.cols; ++k) {
          exact += double(row[size_t(k)]) * x[size_t(t * p.cols + k)];
          mag += std::abs(double(row[size_t(k)]) * x[size_t(t * p.cols + k)]);
        }
        EXPECT_NEAR(y[size_t(t * p.rows + r)], exact, 5e-3 * mag) << "bits " << bits;
      }
  }
}

TEST(PackedWeights, SimdKernelMatchesReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  for (int bits : {4, 8})
    for (int64_t cols : {512, 2048, 5632}) {
      for (int64_t rows : kRows) {
        Packed p(bits, rows, cols, uint32_t(rows * 31 + cols));
        for (int64_t tokens : kTokens) {
          auto x = randn(size_t(tokens * cols), uint32_t(tokens), 1.5f);
          Q8PanelBuffer buf;
          Q8Panel panel = p.quantize(buf, x, tokens);
          std::vector<float> want(size_t(tokens * rows)), got(size_t(tokens * rows) + 1, 777.f);
          packed_gemm_ref(p.view(), 0, rows, panel, want.data(), rows);
          avx512vnni::packed_gemm(p.view(), 0, rows, panel, got.data(), rows);
          EXPECT_EQ(got.back(), 777.f) << "wrote past the output";
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 1e-4f * (1.f + std::abs(want[i])))
                << "bits " << bits << " rows " << rows << " cols " << cols << " tokens " << tokens << " at " << i;
        }
      }
    }
}

TEST(PackedWeights, MatmulOnPackedMatrixAnyThreads) {
  // Through matmul_weights (row ranges split across threads) against the
  // GGML-layout path on the same weights.
  for (int bits : {4, 8})
    for (int threads : {1, 2})
      for (int64_t rows : {1, 7, 33, 255})
        for (int64_t tokens : {1, 5}) {
          set_num_threads(threads);
          Packed p(bits, rows, 1024, uint32_t(rows + 100));
          WeightMatrix native{p.type(), p.ggml.data(), rows, p.cols};
          WeightMatrix packed = native;
          packed.data = p.qs.data();
          packed.packed_scales = p.scales.data();
          auto x = randn(size_t(tokens * p.cols), 17);
          std::vector<float> a(size_t(tokens * rows)), b(size_t(tokens * rows));
          matmul_weights(native, x.data(), tokens, a.data());
          matmul_weights(packed, x.data(), tokens, b.data());
          for (size_t i = 0; i < a.size(); ++i)
            ASSERT_NEAR(a[i], b[i], 1e-4f * (1.f + std::abs(a[i]))) << "threads " << threads << " rows " << rows;
          std::vector<float> r1(static_cast<size_t>(p.cols)), r2(static_cast<size_t>(p.cols));
          weight_row(native, rows - 1, r1.data());
          weight_row(packed, rows - 1, r2.data());
          EXPECT_EQ(r1, r2);
        }
  set_num_threads(1);
}
