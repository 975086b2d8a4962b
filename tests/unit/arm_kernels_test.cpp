// AArch64 kernels against their reference twins: the quantized dots over
// plain NEON and over SDOT equal the reference bit for bit (exact integer
// sums, the reference's float order), the activation quantizer gives the
// same bytes (finite, infinite and quiet-NaN inputs), F16/BF16 dots agree to rounding,
// f16 row conversions give the scalar conversions' bits. Built for AArch64 (run under
// qemu-aarch64 in CI); a level the CPU lacks skips with a message. The
// HWCAP mapping is tested on every architecture.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/dtype.h"
#include "kernels/dispatch.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_dot.h"
#include "kernels/quant_formats.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;

TEST(ArmFeatures, HwcapBitsMapToFeatures) {
  const unsigned long asimd = 1ul << 1, asimdhp = 1ul << 10, asimddp = 1ul << 20, sve = 1ul << 22;
  const unsigned long sve2 = 1ul << 1, i8mm = 1ul << 13, bf16 = 1ul << 14, sme = 1ul << 23;
  CpuFeatures none = arm_features_from_hwcaps(0, 0);
  EXPECT_FALSE(none.neon || none.dotprod || none.i8mm || none.fp16 || none.sve || none.sme);
  // A Cortex-A55 class core: NEON, FP16 and the dot product, no i8mm.
  CpuFeatures a55 = arm_features_from_hwcaps(asimd | asimdhp | asimddp, 0);
  EXPECT_TRUE(a55.neon && a55.fp16 && a55.dotprod);
  EXPECT_FALSE(a55.i8mm || a55.sve);
  // Neoverse V2 / Cortex-X3 class: everything but SME.
  CpuFeatures v2 = arm_features_from_hwcaps(asimd | asimdhp | asimddp | sve, sve2 | i8mm | bf16);
  EXPECT_TRUE(v2.i8mm && v2.arm_bf16 && v2.sve && v2.sve2);
  EXPECT_FALSE(v2.sme);
  EXPECT_TRUE(arm_features_from_hwcaps(0, sme).sme);
  // SIMD extensions without Advanced SIMD itself are not used.
  EXPECT_FALSE(arm_features_from_hwcaps(asimddp, i8mm).dotprod);
  EXPECT_FALSE(arm_features_from_hwcaps(asimddp, i8mm).i8mm);
  // SVE2 needs SVE.
  EXPECT_FALSE(arm_features_from_hwcaps(asimd, sve2).sve2);
}

#if defined(__aarch64__)

namespace {

struct Format {
  GgmlType type;
  QuantDotFn ref, neon_fn, dotprod_fn;
};

const Format kFormats[] = {
    {GgmlType::q4_0, q8a_q4_0_dot_ref, neon::q8a_q4_0_dot, dotprod::q8a_q4_0_dot},
    {GgmlType::q8_0, q8a_q8_0_dot_ref, neon::q8a_q8_0_dot, dotprod::q8a_q8_0_dot},
    {GgmlType::q5_0, q8a_q5_0_dot_ref, neon::q8a_q5_0_dot, dotprod::q8a_q5_0_dot},
    {GgmlType::q4_1, q8a_q4_1_dot_ref, neon::q8a_q4_1_dot, dotprod::q8a_q4_1_dot},
    {GgmlType::q4_k, q8a_q4_k_dot_ref, neon::q8a_q4_k_dot, dotprod::q8a_q4_k_dot},
    {GgmlType::q5_k, q8a_q5_k_dot_ref, neon::q8a_q5_k_dot, dotprod::q8a_q5_k_dot},
    {GgmlType::q6_k, q8a_q6_k_dot_ref, neon::q8a_q6_k_dot, dotprod::q8a_q6_k_dot},
    {GgmlType::q3_k, q8a_q3_k_dot_ref, neon::q8a_q3_k_dot, dotprod::q8a_q3_k_dot},
};

// Every byte random (all codes, high bits and packed scales), the f16
// scale fields set to finite values so sums stay finite.
std::vector<uint8_t> random_row(GgmlType type, int64_t n, uint32_t seed) {
  const GgmlTypeTraits& tr = ggml_type_traits(uint32_t(type));
  std::vector<uint8_t> row(ggml_row_size(uint32_t(type), n));
  std::mt19937 rng(seed);
  for (uint8_t& b : row) b = uint8_t(rng());
  std::vector<size_t> at = {0};
  if (type == GgmlType::q6_k || type == GgmlType::q3_k) at = {tr.type_size - 2};
  if (type == GgmlType::q4_1 || type == GgmlType::q4_k || type == GgmlType::q5_k) at = {0, 2};
  for (size_t blk = 0; blk < row.size() / tr.type_size; ++blk)
    for (size_t off : at) {
      const uint16_t d = uint16_t(0x2000 + rng() % 0x400);  // 0.0078 .. 0.0156
      std::memcpy(row.data() + blk * tr.type_size + off, &d, 2);
    }
  return row;
}

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace

TEST(ArmQuantDot, NeonAndDotprodEqualTheReferenceBitForBit) {
  for (const Format& f : kFormats) {
    const bool k_quant = ggml_type_traits(uint32_t(f.type)).block_size == 256;
    const std::vector<int64_t> sizes = k_quant ? std::vector<int64_t>{256, 512, 768, 256 * 11} : std::vector<int64_t>{32, 64, 96, 224, 32 * 33};
    for (int64_t n : sizes) {
      const auto row = random_row(f.type, n, uint32_t(n) * 7 + 1);
      // Activations with a wide range: blocks of tiny values, large ones, zeros.
      auto x = pareto::testing::randn(size_t(n), uint32_t(n) + 3);
      for (int64_t i = 0; i < n; ++i) x[size_t(i)] *= (i / 32) % 3 == 0 ? 1e-3f : (i / 32) % 3 == 1 ? 40.f : 1.f;
      if (n >= 64) std::fill(x.begin() + 32, x.begin() + 64, 0.f);
      std::vector<Q8aBlock> xq(size_t(n / 32));
      f32_q8a_quantize_ref(x.data(), n, xq.data());
      const float want = f.ref(row.data(), xq.data(), n);
      const char* name = ggml_type_traits(uint32_t(f.type)).name;
      EXPECT_EQ(bits_of(f.neon_fn(row.data(), xq.data(), n)), bits_of(want)) << "neon " << name << " n=" << n;
      if (cpu_features().dotprod) {
        EXPECT_EQ(bits_of(f.dotprod_fn(row.data(), xq.data(), n)), bits_of(want)) << "dotprod " << name << " n=" << n;
      }
    }
  }
  if (!cpu_features().dotprod) GTEST_SKIP() << "this CPU lacks the dot product: the plain NEON kernels were checked, SDOT ones are built, not run";
}

TEST(ArmQuantDot, ActivationQuantizerGivesTheReferenceBytes) {
  for (int64_t n : {32, 64, 32 * 17}) {
    auto x = pareto::testing::randn(size_t(n), uint32_t(n));
    // Block 0: amax 127, so the scale is 1 and every other value is a tie
    // (-14.5 .. 15.5): roundf rounds them away from zero, ties-to-even would not.
    x[0] = 127.f;
    for (int j = 1; j < 32; ++j) x[size_t(j)] = float(j) - 16.f + 0.5f;
    if (n >= 64) {
      x[40] = std::numeric_limits<float>::quiet_NaN();
      x[41] = std::numeric_limits<float>::infinity();
    }
    if (n >= 96) std::fill(x.begin() + 64, x.begin() + 96, 0.f);
    if (n >= 128) x[100] = -std::numeric_limits<float>::infinity();
    std::vector<Q8aBlock> want(size_t(n / 32)), got(size_t(n / 32));
    f32_q8a_quantize_ref(x.data(), n, want.data());
    neon::f32_q8a_quantize(x.data(), n, got.data());
    for (int64_t b = 0; b < n / 32; ++b) {
      EXPECT_EQ(bits_of(got[size_t(b)].d), bits_of(want[size_t(b)].d)) << "block " << b;
      EXPECT_EQ(got[size_t(b)].sum, want[size_t(b)].sum) << "block " << b;
      EXPECT_EQ(0, std::memcmp(got[size_t(b)].qs, want[size_t(b)].qs, 32)) << "block " << b << " n=" << n;
    }
  }
}

TEST(ArmQuantDot, F16AndBf16DotsAgreeWithTheReference) {
  for (int64_t n : {1, 7, 15, 16, 17, 33, 100, 4099}) {
    const auto w = pareto::testing::randn(size_t(n), 5);
    const auto x = pareto::testing::randn(size_t(n), 6);
    std::vector<uint16_t> h(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    quantize_row_ref(uint32_t(GgmlType::f16), w.data(), h.data(), n);
    bf16_round_row_ref(w.data(), b.data(), n);
    double mag = 0;
    for (int64_t i = 0; i < n; ++i) mag += std::fabs(double(w[size_t(i)]) * x[size_t(i)]);
    EXPECT_NEAR(neon::f32_f16_dot(h.data(), x.data(), n), f32_f16_dot_ref(h.data(), x.data(), n), 1e-5 * mag + 1e-6) << n;
    EXPECT_NEAR(neon::f32_bf16_dot(b.data(), x.data(), n), f32_bf16_dot_ref(b.data(), x.data(), n), 1e-5 * mag + 1e-6) << n;
  }
}

// FCVTN / FCVTL rows against the scalar conversions: the same bits for
// normal, subnormal, halfway, overflowing and infinite values (NaN stays
// NaN), on lengths with and without a 4-wide tail.
TEST(ArmQuantDot, F16RowConversionsEqualTheScalarOnes) {
  std::vector<float> x = pareto::testing::randn(4099, 8, 3.f);
  const float special[] = {0.f, -0.f, 65504.f, 65520.f, 1e6f, -1e6f, 6e-8f, 3e-8f, 1e-5f, -2.9802322e-08f, 1.00048828125f,
                           std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), 2049.f, 2051.f};
  std::copy(std::begin(special), std::end(special), x.begin() + 100);
  for (int64_t n : {1, 3, 4, 7, 130, 4099}) {
    std::vector<uint16_t> got(static_cast<size_t>(n) + 1, 0xABCD);
    neon::f32_to_f16(x.data() + 100, got.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[size_t(i)], float_to_half(x[size_t(100 + i)])) << "n=" << n << " i=" << i;
    EXPECT_EQ(got[size_t(n)], 0xABCD) << "wrote past the row";
    std::vector<float> back(static_cast<size_t>(n) + 1, 7.f);
    neon::f16_to_f32(got.data(), back.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(back[size_t(i)], half_to_float(got[size_t(i)])) << "n=" << n << " i=" << i;
    EXPECT_EQ(back[size_t(n)], 7.f) << "wrote past the row";
  }
  const uint16_t nan_bits = 0x7E00;
  float nan_back = 0.f;
  neon::f16_to_f32(&nan_bits, &nan_back, 1);
  EXPECT_TRUE(std::isnan(nan_back));
}

TEST(ArmDispatch, TheTableTakesTheBestLevelTheCpuHas) {
  const CpuFeatures& f = cpu_features();
  ASSERT_TRUE(f.neon) << "every AArch64 Linux CPU reports Advanced SIMD";
  EXPECT_EQ(best_isa_level(), IsaLevel::neon);
  EXPECT_NE(kernel_table_for(IsaLevel::neon), nullptr);
  EXPECT_EQ(kernel_table_for(IsaLevel::avx512), nullptr);
  const std::string isa = quant_dot_table().isa;
  if (std::getenv("PARETO_ISA")) GTEST_SKIP() << "PARETO_ISA is set: the level is capped on purpose";
  EXPECT_EQ(isa, f.dotprod ? "dotprod" : "neon");
  EXPECT_EQ(std::string(quant_dot_table().q8_row_isa), f.i8mm ? "i8mm" : f.dotprod ? "dotprod" : "ref");
  // Repacked weights: the level's kernel, every packed type but Q6_K (row dots on Arm).
  EXPECT_EQ(packed_gemm_fn(), f.dotprod ? &dotprod::packed_gemm : &neon::packed_gemm);
  EXPECT_TRUE(packed_weights_preferred());
  EXPECT_FALSE(packed_type_preferred(uint32_t(GgmlType::q6_k)));
  EXPECT_TRUE(packed_type_preferred(uint32_t(GgmlType::q4_k)));
  EXPECT_FALSE(packed_type_preferred(uint32_t(GgmlType::f16)));
}

#endif  // __aarch64__
