// Every repacked kind (Q4_0 Q8_0 Q4_K Q5_K Q6_K Q4_1 Q5_0 Q5_1 IQ4_NL IQ4_XS Q2_K Q3_K): packing keeps every weight (bit-exact dequantization), the
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
#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/matmul_q.h"
#include "kernels/quant_formats.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::have_vnni;
using pareto::testing::randn;

namespace {

// Random GGML rows of the kind's type: Q4_0/Q8_0/Q4_1 through the reference
// quantizer, the others as random bytes (every quant and sub-block scale
// bit pattern occurs) with finite f16 scales and minimums.
std::vector<uint8_t> ggml_rows(PackedKind kind, int64_t rows, int64_t cols, uint32_t seed) {
  const uint32_t type = packed_ggml_type(kind);
  const size_t rb = ggml_row_size(type, cols);
  std::vector<uint8_t> out(rb * size_t(rows));
  if (kind == PackedKind::q4_0 || kind == PackedKind::q8_0 || kind == PackedKind::q4_1) {
    auto w = randn(size_t(rows * cols), seed, 0.05f);
    for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, w.data() + r * cols, out.data() + size_t(r) * rb, cols);
    return out;
  }
  std::mt19937 rng(seed);
  for (auto& b : out) b = uint8_t(rng());
  const size_t sb = ggml_type_traits(type).type_size;
  // Where each block keeps its f16 scale (and minimum); everything else stays random.
  std::vector<size_t> scales = {0};
  if (kind == PackedKind::q6_k || kind == PackedKind::q3_k) scales = {sb - 2};
  if (kind == PackedKind::q2_k) scales = {80, 82};
  if (kind == PackedKind::q4_k || kind == PackedKind::q5_k || kind == PackedKind::q4_1 || kind == PackedKind::q5_1) scales = {0, 2};
  std::uniform_real_distribution<float> scale(-0.01f, 0.01f);
  for (size_t at = 0; at < out.size(); at += sb)
    for (size_t off : scales) {
      const uint16_t h = float_to_half(scale(rng));
      std::memcpy(&out[at + off], &h, 2);
    }
  return out;
}


struct Packed {
  std::vector<uint8_t> ggml, qs, meta;
  int64_t rows, cols;
  PackedKind kind;
  Packed(PackedKind kind_, int64_t rows_, int64_t cols_, uint32_t seed) : rows(rows_), cols(cols_), kind(kind_) {
    ggml = ggml_rows(kind, rows, cols, seed);
    // Exact sizes: a kernel reading past either buffer is caught by ASan.
    qs.resize(packed_qs_bytes(kind, rows, cols));
    meta.resize(packed_meta_bytes(kind, rows, cols));
    pack_rows(kind, ggml.data(), cols, 0, rows, qs.data(), meta.data());
  }
  uint32_t type() const { return packed_ggml_type(kind); }
  PackedView view() const { return PackedView{qs.data(), meta.data(), rows, cols, kind}; }
  Q8Panel quantize(Q8PanelBuffer& buf, const std::vector<float>& x, int64_t tokens) const { return buf.quantize(x.data(), tokens, cols, kind); }
};

// sum_k |w[r,k] * x[t,k]|: K-quant minimums make large terms cancel, so
// sums taken in another order may differ by a small share of this.
double term_magnitude(const Packed& p, const std::vector<float>& x, int64_t r, int64_t t) {
  std::vector<float> row(static_cast<size_t>(p.cols));
  packed_row(p.view(), r, row.data());
  double mag = 0;
  for (int64_t k = 0; k < p.cols; ++k) mag += std::abs(double(row[size_t(k)]) * x[size_t(t * p.cols + k)]);
  return mag;
}

// Same sums up to float rounding in another order.
bool close(float got, float want, const Packed& p, const std::vector<float>& x, int64_t r, int64_t t) {
  const double diff = std::abs(double(got) - want);
  return diff <= 1e-4 * (1.0 + std::abs(want)) || diff <= 1e-6 * term_magnitude(p, x, r, t);
}

// Row lengths with and without a short last chunk (K-quants come in 256s).
std::vector<int64_t> cols_for(PackedKind kind) {
  if (ggml_type_traits(packed_ggml_type(kind)).block_size == 32) return {32, 96, 512, 896, 2048, 5632};
  return {256, 768, 2048, 5632};
}

const PackedKind kKinds[] = {PackedKind::q4_0, PackedKind::q8_0, PackedKind::q4_k, PackedKind::q5_k,   PackedKind::q6_k,
                             PackedKind::q4_1, PackedKind::q5_0, PackedKind::q5_1, PackedKind::iq4_nl, PackedKind::iq4_xs,
                             PackedKind::q2_k, PackedKind::q3_k};


TEST(PackedWeights, PackingKeepsEveryWeight) {
  for (PackedKind kind : kKinds)
    for (int64_t cols : cols_for(kind)) {
      Packed p(kind, 7, cols, 3);
      std::vector<float> want(static_cast<size_t>(cols)), got(static_cast<size_t>(cols));
      const size_t rb = ggml_row_size(p.type(), cols);
      for (int64_t r = 0; r < p.rows; ++r) {
        dequantize_row_ref(p.type(), p.ggml.data() + size_t(r) * rb, want.data(), cols);
        packed_row(p.view(), r, got.data());
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0) << packed_kind_name(kind) << " cols " << cols << " row " << r;
      }
    }
}

TEST(PackedWeights, ReferenceTracksExactProduct) {
  for (PackedKind kind : kKinds) {
    Packed p(kind, 9, 1280, 5);
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
        EXPECT_NEAR(y[size_t(t * p.rows + r)], exact, 5e-3 * mag) << packed_kind_name(kind);
      }
  }
}

// A kernel against the reference on every kind, row lengths with and
// without a short last chunk, and awkward row and token counts.
[[maybe_unused]] void expect_matches_reference(PackedGemmFn kernel, const char* name, const std::vector<int64_t>& rows_list,
                              const std::vector<int64_t>& tokens_list) {
  for (PackedKind kind : kKinds)
    for (int64_t cols : cols_for(kind)) {
      for (int64_t rows : rows_list) {
        Packed p(kind, rows, cols, uint32_t(rows * 31 + cols));
        std::vector<int64_t> token_counts = tokens_list;
        if (cols == 5632 && rows <= 2) token_counts.push_back(50);  // two token groups (44 per group at 5632 columns)
        for (int64_t tokens : token_counts) {
          auto x = randn(size_t(tokens * cols), uint32_t(tokens), 1.5f);
          Q8PanelBuffer buf;
          Q8Panel panel = p.quantize(buf, x, tokens);
          // Rows [r0, rows): a range that starts inside the matrix, as the thread split gives; row 0 then stays untouched.
          const int64_t r0 = rows > 2 ? 1 : 0;
          std::vector<float> want(size_t(tokens * rows), 777.f), got(size_t(tokens * rows) + 1, 777.f);
          packed_gemm_ref(p.view(), r0, rows, panel, want.data(), rows);
          kernel(p.view(), r0, rows, panel, got.data(), rows);
          EXPECT_EQ(got.back(), 777.f) << name << ": wrote past the output";
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_TRUE(got[i] == want[i] || close(got[i], want[i], p, x, int64_t(i) % rows, int64_t(i) / rows))
                << name << " " << packed_kind_name(kind) << " rows " << rows << " cols " << cols << " tokens " << tokens << " at " << i
                << ": " << got[i] << " vs " << want[i];
        }
      }
    }
}

}  // namespace

namespace pareto::kernels::amx_emulated {
void packed_gemm(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy);
}

// The AMX kernels read the panel in tile order, built once per matmul by the caller.
template <PackedGemmFn Kernel>
void with_tile_panel(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  Q8TilePanel tiles;
  tiles.build(x);
  Q8Panel xt = x;
  xt.tiles = &tiles;
  Kernel(w, r0, r1, xt, y, ldy);
}

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(PackedWeights, SimdKernelMatchesReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  expect_matches_reference(avx512vnni::packed_gemm, "avx512vnni", {1, 2, 7, 33, 67}, {1, 2, 3, 4, 5, 17});
}
#endif  // x86-64

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
// The AMX kernel's source built over software tiles (kernels/x86/amx_tiles.h):
// its tile shapes, layouts and scale handling, on any CPU with AVX-512.
// Rows and tokens below and above the 16 of a tile, with tails.
TEST(PackedWeights, AmxKernelOnEmulatedTilesMatchesReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: the emulated AMX kernel is not run";
  expect_matches_reference(with_tile_panel<amx_emulated::packed_gemm>, "amx (emulated tiles)", {1, 33}, {17, 40});
}
#endif  // x86-64

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(PackedWeights, AmxKernelMatchesReference) {
  if (!cpu_features().amx_int8 || !amx_tile_state_granted())
    GTEST_SKIP() << "no AMX-INT8 on this CPU (or Linux did not grant the tile state): the hardware AMX kernel is not run, "
                    "its emulated build is (AmxKernelOnEmulatedTilesMatchesReference)";
  expect_matches_reference(with_tile_panel<amx::packed_gemm>, "amx", {1, 16, 33, 67}, {1, 16, 17, 40});
}
#endif  // x86-64

#if defined(__aarch64__)  // the Arm kernels are built for AArch64 only
// Plain NEON (SDOT's lanes from widening multiplies) on every AArch64 CPU,
// SDOT where the CPU has the dot product.
TEST(PackedWeights, ArmKernelsMatchReference) {
  expect_matches_reference(neon::packed_gemm, "neon", {1, 5}, {1, 3});
  if (!cpu_features().dotprod) GTEST_SKIP() << "no dot product (FEAT_DotProd) on this CPU: the SDOT kernel is not run";
  expect_matches_reference(dotprod::packed_gemm, "dotprod", {1, 5}, {1, 3});
}
#endif  // AArch64

TEST(PackedWeights, MatmulOnPackedMatrixAnyThreads) {
  // Through matmul_weights (row ranges split across threads, the kernel
  // this CPU selects: AVX512-VNNI or AMX on x86-64, NEON or SDOT on
  // AArch64; on an x86 CPU without AVX512-VNNI that is the reference
  // itself, so only the row split is tested there) against the
  // single-threaded reference on the same quantized activations, and rows
  // dequantized as from GGML's layout.
  for (PackedKind kind : kKinds)
    for (int threads : {1, 2})
      for (int64_t rows : {1, 7, 33, 255})
        for (int64_t tokens : {1, 5, 20}) {  // 20: the AMX kernel where the CPU has it
          set_num_threads(threads);
          Packed p(kind, rows, 1280, uint32_t(rows + 100));
          WeightMatrix native{p.type(), p.ggml.data(), rows, p.cols};
          WeightMatrix packed = native;
          packed.data = p.qs.data();
          packed.packed_meta = p.meta.data();
          auto x = randn(size_t(tokens * p.cols), 17);
          std::vector<float> a(size_t(tokens * rows)), b(size_t(tokens * rows));
          Q8PanelBuffer buf;
          packed_gemm_ref(p.view(), 0, rows, p.quantize(buf, x, tokens), a.data(), rows);
          matmul_weights(packed, x.data(), tokens, b.data());
          for (size_t i = 0; i < a.size(); ++i)
            ASSERT_TRUE(close(b[i], a[i], p, x, int64_t(i) % rows, int64_t(i) / rows))
                << packed_kind_name(kind) << " threads " << threads << " rows " << rows << ": " << b[i] << " vs " << a[i];
          std::vector<float> r1(static_cast<size_t>(p.cols)), r2(static_cast<size_t>(p.cols));
          weight_row(native, rows - 1, r1.data());
          weight_row(packed, rows - 1, r2.data());
          EXPECT_EQ(r1, r2);
        }
  set_num_threads(1);
}
