// Integer dot-product kernels (every ISA variant) against the reference, on
// awkward sizes; and the decode matmul against the exact f32 product.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/llm_ops.h"
#include "kernels/matmul_q.h"
#include "kernels/quant_dot.h"
#include "kernels/quant_formats.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::have_vnni;
using pareto::testing::randn;

namespace {

const int64_t kCols[] = {32, 64, 96, 224, 256, 768, 4096, 4128};

size_t cols_size(int64_t n) { return size_t(n); }

// Random blocks of a type without a reference quantizer: every bit pattern
// decodes, but the f16 scale (and minimum) fields get sane values.
void random_blocks(GgmlType type, std::vector<uint8_t>& row) {
  std::mt19937 rng(29);
  for (uint8_t& byte : row) byte = uint8_t(rng());
  const GgmlTypeTraits& tr = ggml_type_traits(uint32_t(type));
  std::vector<size_t> at = {0};
  if (type == GgmlType::q6_k || type == GgmlType::q3_k) at = {tr.type_size - 2};
  if (type == GgmlType::q4_1 || type == GgmlType::q4_k || type == GgmlType::q5_k) at = {0, 2};
  for (size_t blk = 0; blk < row.size() / tr.type_size; ++blk)
    for (size_t off : at) {
      uint16_t d = uint16_t(0x211f + (blk + off) % 7);  // about 0.01 in f16
      std::memcpy(row.data() + blk * tr.type_size + off, &d, 2);
    }
}

// F16 (reference quantizer) or BF16 (rounded to nearest even) copies of w.
std::vector<uint16_t> to_half(bool bf16, const std::vector<float>& w) {
  std::vector<uint16_t> h(w.size());
  if (bf16) bf16_round_row_ref(w.data(), h.data(), int64_t(w.size()));
  else quantize_row_ref(uint32_t(GgmlType::f16), w.data(), h.data(), int64_t(w.size()));
  return h;
}

}  // namespace

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(QuantDot, ActivationQuantizationMatchesReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  for (int64_t n : kCols) {
    auto x = randn(size_t(n), 3, 2.f);
    x[5] = 0.f;
    std::vector<Q8aBlock> a(size_t(n / 32)), b(size_t(n / 32));
    f32_q8a_quantize_ref(x.data(), n, a.data());
    avx512vnni::f32_q8a_quantize(x.data(), n, b.data());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].d, b[i].d);
      EXPECT_EQ(a[i].sum, b[i].sum);
      EXPECT_EQ(std::memcmp(a[i].qs, b[i].qs, 32), 0) << "n=" << n << " block " << i;
    }
  }
}
#endif  // x86-64

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(QuantDot, VariantsMatchReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  struct Case {
    GgmlType type;
    QuantDotFn ref, fast;
  };
  for (Case c : {Case{GgmlType::q4_0, q8a_q4_0_dot_ref, avx512vnni::q8a_q4_0_dot}, Case{GgmlType::q8_0, q8a_q8_0_dot_ref, avx512vnni::q8a_q8_0_dot},
                 Case{GgmlType::q4_k, q8a_q4_k_dot_ref, avx512vnni::q8a_q4_k_dot}, Case{GgmlType::q6_k, q8a_q6_k_dot_ref, avx512vnni::q8a_q6_k_dot},
                 Case{GgmlType::q5_0, q8a_q5_0_dot_ref, avx512vnni::q8a_q5_0_dot}, Case{GgmlType::q4_1, q8a_q4_1_dot_ref, avx512vnni::q8a_q4_1_dot},
                 Case{GgmlType::q5_k, q8a_q5_k_dot_ref, avx512vnni::q8a_q5_k_dot}, Case{GgmlType::q3_k, q8a_q3_k_dot_ref, avx512vnni::q8a_q3_k_dot}})
    for (int64_t n : kCols) {
      if (n % ggml_type_traits(uint32_t(c.type)).block_size) continue;
      auto w = randn(size_t(n), 7, 0.05f);
      auto x = randn(size_t(n), 9);
      size_t bytes = ggml_row_size(uint32_t(c.type), n);
      // The row ends exactly at the end of its allocation: reading past it is caught by ASan.
      std::vector<uint8_t> row(bytes);
      if (can_quantize(uint32_t(c.type))) {
        quantize_row_ref(uint32_t(c.type), w.data(), row.data(), n);
      } else {
        random_blocks(c.type, row);
      }
      std::vector<Q8aBlock> xq(size_t(n / 32));
      f32_q8a_quantize_ref(x.data(), n, xq.data());
      float want = c.ref(row.data(), xq.data(), n), got = c.fast(row.data(), xq.data(), n);
      // Exact per block; only the float accumulation order differs.
      double mag = 0;
      std::vector<float> wd(cols_size(n));
      dequantize_row_ref(uint32_t(c.type), row.data(), wd.data(), n);
      for (int64_t i = 0; i < n; ++i) mag += std::abs(double(wd[size_t(i)]) * x[size_t(i)]);
      EXPECT_NEAR(got, want, 1e-5 * mag + 1e-6) << ggml_type_traits(uint32_t(c.type)).name << " n=" << n;
    }
}
#endif  // x86-64

// The reference integer dots themselves against dequantized weights times
// dequantized activations: catches a wrong element order in a twin pair.
TEST(QuantDot, ReferenceDotsMatchDequantizedProduct) {
  struct Case {
    GgmlType type;
    QuantDotFn ref;
  };
  for (Case c : {Case{GgmlType::q4_0, q8a_q4_0_dot_ref}, Case{GgmlType::q8_0, q8a_q8_0_dot_ref}, Case{GgmlType::q4_1, q8a_q4_1_dot_ref},
                 Case{GgmlType::q5_0, q8a_q5_0_dot_ref}, Case{GgmlType::q3_k, q8a_q3_k_dot_ref}, Case{GgmlType::q4_k, q8a_q4_k_dot_ref},
                 Case{GgmlType::q5_k, q8a_q5_k_dot_ref}, Case{GgmlType::q6_k, q8a_q6_k_dot_ref}}) {
    const int64_t n = 512;
    std::vector<uint8_t> row(ggml_row_size(uint32_t(c.type), n));
    random_blocks(c.type, row);
    auto x = randn(size_t(n), 23);
    std::vector<Q8aBlock> xq(size_t(n / 32));
    f32_q8a_quantize_ref(x.data(), n, xq.data());
    std::vector<float> wd(cols_size(n));
    dequantize_row_ref(uint32_t(c.type), row.data(), wd.data(), n);
    double want = 0, mag = 0;
    for (int64_t i = 0; i < n; ++i) {
      double xi = double(xq[size_t(i / 32)].d) * xq[size_t(i / 32)].qs[i % 32];
      want += double(wd[size_t(i)]) * xi;
      mag += std::abs(double(wd[size_t(i)]) * xi);
    }
    EXPECT_NEAR(c.ref(row.data(), xq.data(), n), want, 1e-5 * mag + 1e-6) << ggml_type_traits(uint32_t(c.type)).name;
  }
  std::vector<uint16_t> bf(77);
  std::vector<float> x(77), wf(77);
  for (size_t i = 0; i < bf.size(); ++i) {
    bf[i] = uint16_t(0x3c00 + i * 37);  // bf16 bit patterns around 0.0078..
    uint32_t bits = uint32_t(bf[i]) << 16;
    std::memcpy(&wf[i], &bits, 4);
    x[i] = float(i % 5) - 2.f;
  }
  double want = 0;
  for (size_t i = 0; i < bf.size(); ++i) want += double(wf[i]) * x[i];
  EXPECT_NEAR(f32_bf16_dot_ref(bf.data(), x.data(), 77), want, 1e-5 * std::abs(want) + 1e-6);
#if defined(__x86_64__)
  if (have_vnni()) {
    for (int64_t n : {int64_t(1), int64_t(31), int64_t(33), int64_t(77)}) {
      const float ref = f32_bf16_dot_ref(bf.data(), x.data(), n);
      EXPECT_NEAR(avx512vnni::f32_bf16_dot(bf.data(), x.data(), n), ref, 1e-6 * std::abs(ref) + 1e-6) << "bf16 n=" << n;
    }
  }
#endif
}

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(QuantDot, Avx2VariantsMatchReference) {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) GTEST_SKIP() << "no AVX2/FMA/F16C on this CPU";
  for (int64_t n : kCols) {
    auto w = randn(size_t(n), 41, 0.05f);
    auto x = randn(size_t(n), 43);
    std::vector<Q8aBlock> xq(size_t(n / 32));
    f32_q8a_quantize_ref(x.data(), n, xq.data());
    for (GgmlType type : {GgmlType::q4_0, GgmlType::q8_0}) {
      std::vector<uint8_t> row(ggml_row_size(uint32_t(type), n));
      quantize_row_ref(uint32_t(type), w.data(), row.data(), n);
      // Weights of -128 (possible in hand-made Q8_0 rows) must not saturate.
      if (type == GgmlType::q8_0) row[2] = 0x80;
      float want = type == GgmlType::q4_0 ? q8a_q4_0_dot_ref(row.data(), xq.data(), n) : q8a_q8_0_dot_ref(row.data(), xq.data(), n);
      float got = type == GgmlType::q4_0 ? avx2::q8a_q4_0_dot(row.data(), xq.data(), n) : avx2::q8a_q8_0_dot(row.data(), xq.data(), n);
      EXPECT_NEAR(got, want, 1e-4f * (1.f + std::abs(want))) << ggml_type_traits(uint32_t(type)).name << " n=" << n;
    }
    std::vector<uint16_t> h(cols_size(n));
    quantize_row_ref(uint32_t(GgmlType::f16), w.data(), h.data(), n);
    float want = f32_f16_dot_ref(h.data(), x.data(), n);
    EXPECT_NEAR(avx2::f32_f16_dot(h.data(), x.data(), n), want, 1e-4f * (1.f + std::abs(want))) << "f16 n=" << n;
  }
}
#endif  // x86-64

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
TEST(QuantDot, F16VariantMatchesReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  for (int64_t n : {int64_t(1), int64_t(31), int64_t(33), int64_t(4097)}) {
    auto w = randn(size_t(n), 17);
    auto x = randn(size_t(n), 19);
    std::vector<uint16_t> h(cols_size(n));
    quantize_row_ref(uint32_t(GgmlType::f16), w.data(), h.data(), n);
    double mag = 0;
    for (int64_t i = 0; i < n; ++i) mag += std::abs(double(w[size_t(i)]) * x[size_t(i)]);
    EXPECT_NEAR(avx512vnni::f32_f16_dot(h.data(), x.data(), n), f32_f16_dot_ref(h.data(), x.data(), n), 1e-5 * mag + 1e-6) << n;
  }
}
#endif  // x86-64

TEST(QuantDot, FloatRowsDotMatchesRowDots) {
  // Each architecture's variant: AVX-512 (x86-64 with VNNI) or NEON (every AArch64 CPU).
  FloatRowsDotFn fns[3] = {};
#if defined(__x86_64__)
  if (!have_vnni()) GTEST_SKIP() << "no AVX-512 on this CPU: decode takes one row at a time";
  fns[0] = avx512vnni::f16_rows_dot, fns[1] = avx512vnni::bf16_rows_dot, fns[2] = avx512vnni::f32_rows_dot;
#elif defined(__aarch64__)
  fns[0] = neon::f16_rows_dot, fns[1] = neon::bf16_rows_dot, fns[2] = neon::f32_rows_dot;
#else
  GTEST_SKIP() << "no rows-dot variant for this architecture";
#endif
  for (int kind = 0; kind < 3; ++kind)
    for (int64_t n : {int64_t(1), int64_t(15), int64_t(16), int64_t(17), int64_t(63), int64_t(64), int64_t(65), int64_t(100), int64_t(4097)})
      for (int64_t rows : {int64_t(1), int64_t(3), int64_t(4), int64_t(9)}) {
        auto w = randn(size_t(rows * n), uint32_t(n + rows));
        auto x = randn(size_t(n), 31);
        const uint32_t type = kind == 0 ? uint32_t(GgmlType::f16) : kind == 1 ? uint32_t(GgmlType::bf16) : uint32_t(GgmlType::f32);
        const size_t rb = ggml_row_size(type, n);
        std::vector<uint8_t> stored(rb * size_t(rows));
        for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, w.data() + r * n, stored.data() + size_t(r) * rb, n);
        std::vector<float> got(size_t(rows) + 1, 777.f), row(static_cast<size_t>(n));
        const FloatRowsDotFn fn = fns[kind];
        fn(stored.data(), int64_t(rb), rows, x.data(), n, got.data());
        EXPECT_EQ(got.back(), 777.f) << "wrote past the output";
        for (int64_t r = 0; r < rows; ++r) {
          dequantize_row_ref(type, stored.data() + size_t(r) * rb, row.data(), n);
          double exact = 0, mag = 0;
          for (int64_t k = 0; k < n; ++k) {
            exact += double(row[size_t(k)]) * x[size_t(k)];
            mag += std::abs(double(row[size_t(k)]) * x[size_t(k)]);
          }
          ASSERT_NEAR(got[size_t(r)], exact, 1e-6 * mag + 1e-7) << "kind " << kind << " n " << n << " rows " << rows << " row " << r;
        }
      }
}

// Activations as half_gemm takes them: f32 for F16 weights, BF16 for BF16.
struct HalfActivations {
  std::vector<float> f32;
  std::vector<uint16_t> bf16;
  const void* ptr(bool is_bf16) const { return is_bf16 ? static_cast<const void*>(bf16.data()) : f32.data(); }
  const void* row(bool is_bf16, int64_t t, int64_t cols) const {
    return is_bf16 ? static_cast<const void*>(bf16.data() + t * cols) : f32.data() + t * cols;
  }
};
HalfActivations half_activations(std::vector<float> x) {
  HalfActivations a{std::move(x), {}};
  a.bf16.resize(a.f32.size());
  bf16_round_row_ref(a.f32.data(), a.bf16.data(), int64_t(a.f32.size()));
  return a;
}

// got against want over [tokens][ldy]: within 1e-5 of sum_k |w x| per entry
// (products summed in another order), and entries of rows >= `rows` (not
// computed) equal; the first difference is reported.
::testing::AssertionResult half_outputs_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& w,
                                              const HalfActivations& x, int64_t rows, int64_t cols, int64_t tokens, int64_t ldy) {
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t r = 0; r < ldy; ++r) {
      double mag = 1e-6;
      if (r < rows)
        for (int64_t k = 0; k < cols; ++k) mag += std::abs(double(w[size_t(r * cols + k)]) * x.f32[size_t(t * cols + k)]);
      const double diff = std::abs(double(got[size_t(t * ldy + r)]) - want[size_t(t * ldy + r)]);
      if (!(diff <= 1e-5 * mag))
        return ::testing::AssertionFailure() << "at token " << t << " row " << r << ": " << got[size_t(t * ldy + r)] << " vs "
                                             << want[size_t(t * ldy + r)];
    }
  return ::testing::AssertionSuccess();
}

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
TEST(QuantDot, HalfGemmMatchesReference) {
#if defined(__x86_64__)
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  std::vector<HalfGemmFn> variants = {avx512vnni::half_gemm};
  if (cpu_features().avx512bf16) variants.push_back(avx512bf16::half_gemm);
  else std::printf("no AVX512-BF16 on this CPU: its BF16 kernel is not run\n");
#else
  const std::vector<HalfGemmFn> variants = {neon::half_gemm};  // plain NEON: every AArch64 CPU
#endif
  // 70 tokens of 2053 columns span two token groups (63 per group for F16).
  const int64_t kTokens[] = {1, 2, 3, 4, 7, 70};
  for (bool bf16 : {false, true})
    for (int64_t cols : {int64_t(1), int64_t(15), int64_t(16), int64_t(33), int64_t(63), int64_t(2053)})
      for (int64_t rows : {int64_t(1), int64_t(7), int64_t(8), int64_t(17)})
        for (int64_t tokens : kTokens) {
          if (tokens == 70 && (cols < 2053 || rows > 8)) continue;
          auto w = randn(size_t(rows * cols), uint32_t(cols + rows));
          const HalfActivations x = half_activations(randn(size_t(tokens * cols), uint32_t(tokens)));
          const std::vector<uint16_t> h = to_half(bf16, w);
          // rows [1, rows) into an output with one spare row each side: nothing outside is written
          const int64_t ldy = rows + 2;
          std::vector<float> want(size_t(tokens * ldy), 7.f);
          half_gemm_ref(h.data(), bf16, cols, rows > 1 ? 1 : 0, rows, x.ptr(bf16), tokens, want.data(), ldy);
          for (HalfGemmFn fn : variants) {
            std::vector<float> got(size_t(tokens * ldy), 7.f);
            fn(h.data(), bf16, cols, rows > 1 ? 1 : 0, rows, x.ptr(bf16), tokens, got.data(), ldy);
            ASSERT_TRUE(half_outputs_close(got, want, w, x, rows, cols, tokens, ldy))
                << (bf16 ? "bf16" : "f16") << " cols " << cols << " rows " << rows << " tokens " << tokens;
          }
        }
}
#endif

namespace pareto::kernels::amx_emulated {
void bf16_gemm(const uint16_t* w, int64_t cols, int64_t r0, int64_t r1, const uint16_t* panel, int64_t tokens, float* y, int64_t ldy);
}

#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
// The AMX-BF16 kernel (its source over emulated tiles on any CPU with
// AVX-512, the hardware build where the CPU has AMX) against the reference:
// rows and tokens below, at and above a tile's 16, rows past a 32-row pass.
TEST(QuantDot, AmxBf16GemmMatchesReference) {
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: the emulated AMX kernels are not run";
  std::vector<std::pair<Bf16TilesFn, const char*>> variants = {{amx_emulated::bf16_gemm, "amx (emulated tiles)"}};
  if (cpu_features().amx_bf16 && amx_tile_state_granted()) variants.push_back({amx::bf16_gemm, "amx"});
  else std::printf("no AMX-BF16 on this CPU (or Linux did not grant the tile state): the hardware AMX kernel is not run\n");
  for (int64_t cols : {int64_t(32), int64_t(96), int64_t(2048)})
    for (int64_t rows : {int64_t(1), int64_t(17), int64_t(34), int64_t(70)})
      for (int64_t tokens : {int64_t(1), int64_t(16), int64_t(17), int64_t(40)}) {
        if (cols == 2048 && rows > 17) continue;
        auto w = randn(size_t(rows * cols), uint32_t(cols + rows));
        const HalfActivations x = half_activations(randn(size_t(tokens * cols), uint32_t(tokens)));
        const std::vector<uint16_t> h = to_half(true, w);
        const int64_t ldy = rows + 2, r0 = rows > 1 ? 1 : 0;
        std::vector<float> want(size_t(tokens * ldy), 7.f);
        half_gemm_ref(h.data(), true, cols, r0, rows, x.ptr(true), tokens, want.data(), ldy);
        std::vector<uint16_t> panel;
        bf16_tile_panel(x.bf16.data(), tokens, cols, panel);
        for (const auto& [fn, name] : variants) {
          std::vector<float> got(size_t(tokens * ldy), 7.f);
          fn(h.data(), cols, r0, rows, panel.data(), tokens, got.data(), ldy);
          ASSERT_TRUE(half_outputs_close(got, want, w, x, rows, cols, tokens, ldy)) << name << " cols " << cols << " rows " << rows << " tokens " << tokens;
        }
      }
}
#endif  // x86-64

TEST(QuantDot, HalfMatmulAnyThreadsMatchesReference) {
  // matmul_weights (batch kernel or, without one, the fallback; rows split
  // across threads; BF16 activations rounded on every path) against the
  // reference one row and token at a time.
  for (uint32_t type : {uint32_t(GgmlType::f16), uint32_t(GgmlType::bf16)})
    for (int threads : {1, 2})
      for (int64_t rows : {int64_t(1), int64_t(9), int64_t(45)})
        for (int64_t tokens : {int64_t(1), int64_t(5), int64_t(20)}) {
          set_num_threads(threads);
          const bool bf16 = type == uint32_t(GgmlType::bf16);
          const int64_t cols = tokens == 20 ? 128 : 100;  // 20 x 128: the AMX-BF16 kernel where the CPU has it
          auto w = randn(size_t(rows * cols), 3);
          const HalfActivations x = half_activations(randn(size_t(tokens * cols), 4));
          const std::vector<uint16_t> h = to_half(bf16, w);
          std::vector<float> y(size_t(tokens * rows));
          matmul_weights(WeightMatrix{type, h.data(), rows, cols}, x.f32.data(), tokens, y.data());
          for (int64_t t = 0; t < tokens; ++t)
            for (int64_t r = 0; r < rows; ++r) {
              float want;
              half_gemm_ref(h.data() + r * cols, bf16, cols, 0, 1, x.row(bf16, t, cols), 1, &want, 1);
              ASSERT_NEAR(y[size_t(t * rows + r)], want, 1e-4f * (1.f + std::abs(want)))
                  << (bf16 ? "bf16" : "f16") << " threads " << threads << " rows " << rows << " tokens " << tokens;
            }
        }
  set_num_threads(1);
}

// This architecture's attention kernels over f16 and int8 caches (null
// where the CPU has none): AVX512-VNNI on x86-64, NEON on AArch64.
using F16AttentionFn = void (*)(const float*, const uint16_t*, const uint16_t*, int64_t, int64_t, int64_t, float*, float*);
using Q8AttentionFn = void (*)(const float*, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t, float*, float*);
namespace {
struct AttentionKernels {
  F16AttentionFn f16 = nullptr;
  Q8AttentionFn q8 = nullptr;
  const char* name = "none";
};
AttentionKernels attention_kernels() {
#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
  if (have_vnni()) return {avx512vnni::f16kv_attention_head, avx512vnni::q8kv_attention_head, "avx512vnni"};
#elif defined(__aarch64__)
  return {neon::f16kv_attention_head, neon::q8kv_attention_head, "neon"};
#endif
  return {};
}
}  // namespace

TEST(QuantDot, F16AttentionMatchesReference) {
  const AttentionKernels kernels = attention_kernels();
  if (!kernels.f16) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  // 24 and 80: the 8-wide tails of the score dots and of the 64-column V sums
  for (int64_t hd : {int64_t(8), int64_t(24), int64_t(64), int64_t(80), int64_t(128)})
    for (int64_t n_pos : {int64_t(1), int64_t(7), int64_t(17), int64_t(300)}) {
      const int64_t stride = hd * 3;  // GQA cache rows hold several heads
      auto q = randn(size_t(hd), 31);
      auto kf = randn(size_t(n_pos * stride), 33), vf = randn(size_t(n_pos * stride), 35);
      std::vector<uint16_t> k(kf.size()), v(vf.size());
      quantize_row_ref(uint32_t(GgmlType::f16), kf.data(), k.data(), int64_t(kf.size()));
      quantize_row_ref(uint32_t(GgmlType::f16), vf.data(), v.data(), int64_t(vf.size()));
      std::vector<float> scratch(static_cast<size_t>(n_pos)), want(cols_size(hd)), got(cols_size(hd) + 4, 555.f);
      f16kv_attention_head_ref(q.data(), k.data(), v.data(), n_pos, hd, stride, scratch.data(), want.data());
      kernels.f16(q.data(), k.data(), v.data(), n_pos, hd, stride, scratch.data(), got.data());
      for (int64_t i = 0; i < hd; ++i)
        EXPECT_NEAR(got[size_t(i)], want[size_t(i)], 1e-4f) << kernels.name << " hd=" << hd << " n_pos=" << n_pos;
      EXPECT_EQ(got[size_t(hd)], 555.f) << "wrote past the output";
    }
}

TEST(QuantDot, Int8KvAttentionMatchesReference) {
  for (int64_t hd : {int64_t(8), int64_t(16), int64_t(64), int64_t(128)})
    for (int64_t n_pos : {int64_t(1), int64_t(7), int64_t(300)}) {
      const int64_t row = q8kv_row_bytes(hd), stride = row * 3;  // GQA: three kv heads per position
      auto q = randn(size_t(hd), 41);
      auto kf = randn(size_t(n_pos * hd), 43), vf = randn(size_t(n_pos * hd), 45);
      std::vector<uint8_t> k(size_t(n_pos * stride)), v(size_t(n_pos * stride));
      for (int64_t t = 0; t < n_pos; ++t) {
        f32_to_q8kv_row(kf.data() + t * hd, hd, k.data() + t * stride);
        f32_to_q8kv_row(vf.data() + t * hd, hd, v.data() + t * stride);
      }
      std::vector<float> scratch(static_cast<size_t>(n_pos)), want(cols_size(hd)), exact(cols_size(hd)), got(cols_size(hd) + 4, 555.f);
      q8kv_attention_head_ref(q.data(), k.data(), v.data(), n_pos, hd, stride, scratch.data(), want.data());
      // int8 rows stay close to the float cache they came from
      f32_attention_head(q.data(), kf.data(), vf.data(), n_pos, hd, hd, scratch.data(), exact.data());
      for (int64_t i = 0; i < hd; ++i) EXPECT_NEAR(want[size_t(i)], exact[size_t(i)], 0.05f) << "hd=" << hd << " n_pos=" << n_pos;
      const AttentionKernels kernels = attention_kernels();
      if (!kernels.q8 || hd % 16) continue;
      kernels.q8(q.data(), k.data(), v.data(), n_pos, hd, stride, scratch.data(), got.data());
      for (int64_t i = 0; i < hd; ++i)
        EXPECT_NEAR(got[size_t(i)], want[size_t(i)], 1e-4f) << kernels.name << " hd=" << hd << " n_pos=" << n_pos;
      EXPECT_EQ(got[size_t(hd)], 555.f) << "wrote past the output";
    }
}

TEST(QuantDot, DecodeMatmulTracksExactProduct) {
  for (GgmlType type : {GgmlType::q4_0, GgmlType::q8_0, GgmlType::q4_k, GgmlType::f16, GgmlType::bf16, GgmlType::f32})
    for (int threads : {1, 2}) {
      set_num_threads(threads);
      const int64_t rows = 33, cols = type == GgmlType::q4_k ? 4352 : 4128;
      auto wf = randn(size_t(rows * cols), 11, 0.05f);
      size_t rb = ggml_row_size(uint32_t(type), cols);
      std::vector<uint8_t> wq(rb * size_t(rows));
      for (int64_t r = 0; r < rows; ++r) quantize_row_ref(uint32_t(type), wf.data() + r * cols, wq.data() + size_t(r) * rb, cols);
      WeightMatrix w{uint32_t(type), wq.data(), rows, cols};
      auto x = randn(size_t(2 * cols), 13);
      std::vector<float> y(size_t(2 * rows) + 4, 777.f);
      matmul_weights(w, x.data(), 2, y.data());
      EXPECT_EQ(y[size_t(2 * rows)], 777.f) << "wrote past the output";
      std::vector<float> row(cols_size(cols));
      for (int64_t t = 0; t < 2; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          weight_row(w, r, row.data());
          double exact = 0, mag = 0;
          for (int64_t k = 0; k < cols; ++k) {
            exact += double(row[size_t(k)]) * x[size_t(t * cols + k)];
            mag += std::abs(double(row[size_t(k)]) * x[size_t(t * cols + k)]);
          }
          // int8 activations: error well under 1% of the magnitude of the terms.
          EXPECT_NEAR(y[size_t(t * rows + r)], exact, 5e-3 * mag) << ggml_type_traits(uint32_t(type)).name;
        }
    }
  set_num_threads(1);
}
