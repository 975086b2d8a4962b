// pareto's own weight formats: group-wise 2..8-bit rows with tail groups and
// int8-per-channel W8A8 rows. Round trips, error bounds, the AVX512-VNNI
// kernels against their reference twins on awkward sizes, the matmul paths
// against the dequantized product, and GGUF files holding them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "frontend/gguf/gguf_reader.h"
#include "frontend/gguf/gguf_writer.h"
#include "kernels/matmul_q.h"
#include "kernels/pareto_formats.h"
#include "kernels/quant_dot.h"
#include "kernels/quant_formats.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::kernels;
using pareto::testing::have_vnni;
using pareto::testing::randn;

namespace {

const int64_t kLengths[] = {1, 5, 31, 32, 44, 64, 96, 172, 200, 256, 1000, 4128};

std::vector<GroupFormat> all_formats() {
  std::vector<GroupFormat> out;
  for (int bits : {2, 3, 4, 5, 6, 8})
    for (int64_t g : {32, 64, 128, 256})
      for (bool asym : {false, true}) out.push_back({bits, g, asym});
  return out;
}

}  // namespace

TEST(ParetoFormats, TypeIdsRoundTripAndNames) {
  for (const GroupFormat& f : all_formats()) {
    const uint32_t t = group_type(f.bits, f.group, f.asym);
    ASSERT_TRUE(is_group_type(t));
    const GroupFormat g = group_format(t);
    EXPECT_EQ(g.bits, f.bits);
    EXPECT_EQ(g.group, f.group);
    EXPECT_EQ(g.asym, f.asym);
    EXPECT_STREQ(ggml_type_traits(t).name, pareto_type_name(t).c_str());
  }
  EXPECT_EQ(pareto_type_name(group_type(3, 64, true)), "pq3g64a");
  EXPECT_EQ(group_type(1, 32, false), 0u);
  EXPECT_EQ(group_type(4, 48, false), 0u);
  EXPECT_FALSE(is_group_type(uint32_t(GgmlType::q4_0)));
  EXPECT_EQ(ggml_row_size(kQ8RowType, 100), 108u);
}

// Every element within half a step of the block's f16 scale (plus the f16
// rounding of an asymmetric minimum); tail groups quantized on their own.
TEST(ParetoFormats, RoundTripErrorWithinHalfStep) {
  for (const GroupFormat& f : all_formats())
    for (int64_t n : kLengths) {
      auto x = randn(size_t(n), uint32_t(n * 7 + f.bits), 0.3f);
      std::vector<uint8_t> q(group_row_size(f, n));  // exact size: ASan catches overruns
      std::vector<float> y(static_cast<size_t>(n));
      quantize_group_row_ref(f, x.data(), q.data(), n);
      dequantize_group_row_ref(f, q.data(), y.data(), n);
      for (int64_t g0 = 0; g0 < n; g0 += f.group) {
        const int64_t c = std::min(f.group, n - g0);
        const GroupParams p = stored_group_params(f, group_params(x.data() + g0, c, f.bits, f.asym));
        for (int64_t i = g0; i < g0 + c; ++i)
          ASSERT_LE(std::fabs(y[size_t(i)] - x[size_t(i)]), p.scale * 0.5f * 1.01f + 1e-3f * p.scale * p.zero + 1e-7f)
              << pareto_type_name(group_type(f.bits, f.group, f.asym)) << " n=" << n << " i=" << i;
      }
    }
}

TEST(ParetoFormats, ErrorsOrderByBitsAndGroup) {
  const int64_t n = 4096;
  auto x = randn(size_t(n), 5);
  auto mse = [&](int bits, int64_t g) {
    const GroupFormat f{bits, g, false};
    std::vector<uint8_t> q(group_row_size(f, n));
    std::vector<float> y(static_cast<size_t>(n));
    quantize_group_row_ref(f, x.data(), q.data(), n);
    dequantize_group_row_ref(f, q.data(), y.data(), n);
    double e = 0;
    for (int64_t i = 0; i < n; ++i) e += double(y[size_t(i)] - x[size_t(i)]) * (y[size_t(i)] - x[size_t(i)]);
    return e / double(n);
  };
  EXPECT_LT(mse(8, 32), mse(4, 32));
  EXPECT_LT(mse(4, 32), mse(3, 32));
  EXPECT_LT(mse(3, 32), mse(2, 32));
  EXPECT_LE(mse(3, 32), mse(3, 64));
  EXPECT_LE(mse(3, 64), mse(3, 128));
}

TEST(ParetoFormats, GroupUnpackAndDotMatchDequantizedProductAndVariants) {
  [[maybe_unused]] const CpuFeatures& cpu = cpu_features();  // the x86 variants' features
  for (const GroupFormat& f : all_formats())
    for (int64_t n : {32, 64, 96, 160, 256, 544, 4128}) {
      auto w = randn(size_t(n), 11, 0.05f);
      auto x = randn(size_t(n), 13);
      std::vector<uint8_t> row(group_row_size(f, n));  // exact size: the unpackers must not read past it
      quantize_group_row_ref(f, w.data(), row.data(), n);
      std::vector<Q8aBlock> xq(size_t(n / 32));
      f32_q8a_quantize_ref(x.data(), n, xq.data());
      std::vector<float> wd(static_cast<size_t>(n));
      dequantize_group_row_ref(f, row.data(), wd.data(), n);
      double want = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double xi = double(xq[size_t(i / 32)].d) * xq[size_t(i / 32)].qs[i % 32];
        want += wd[size_t(i)] * xi;
        mag += std::fabs(wd[size_t(i)] * xi);
      }
      const std::string name = pareto_type_name(group_type(f.bits, f.group, f.asym)) + " n=" + std::to_string(n);
      std::vector<uint8_t> codes(static_cast<size_t>(n)), codes2(static_cast<size_t>(n));
      std::vector<float> dm(static_cast<size_t>(n / 16)), dm2(static_cast<size_t>(n / 16));
      group_unpack_ref(row.data(), n, f, codes.data(), dm.data());
      const float ref = q8a_codes_dot_ref(codes.data(), dm.data(), xq.data(), n);
      EXPECT_NEAR(ref, want, 1e-5 * mag + 1e-6) << name;
#if defined(__x86_64__)  // the x86 kernels are built for x86-64 only
      if (!have_vnni()) continue;
      EXPECT_NEAR(avx512vnni::q8a_codes_dot(codes.data(), dm.data(), xq.data(), n), ref, 1e-5 * mag + 1e-6) << name;
      if (cpu.bmi2) {
        avx512vnni::group_unpack_pdep(row.data(), n, f, codes2.data(), dm2.data());
        EXPECT_EQ(codes, codes2) << "pdep " << name;
        EXPECT_EQ(dm, dm2) << "pdep " << name;
      }
      if (cpu.avx512vbmi) {
        avx512vnni::group_unpack_vbmi(row.data(), n, f, codes2.data(), dm2.data());
        EXPECT_EQ(codes, codes2) << "vbmi " << name;
        EXPECT_EQ(dm, dm2) << "vbmi " << name;
      }
#elif defined(__aarch64__)  // plain NEON on every AArch64 CPU, SDOT where it has the dot product
      neon::group_unpack(row.data(), n, f, codes2.data(), dm2.data());
      EXPECT_EQ(codes, codes2) << "neon " << name;
      EXPECT_EQ(dm, dm2) << "neon " << name;
      EXPECT_NEAR(neon::q8a_codes_dot(codes.data(), dm.data(), xq.data(), n), ref, 1e-5 * mag + 1e-6) << "neon " << name;
      if (cpu.dotprod) {
        EXPECT_NEAR(dotprod::q8a_codes_dot(codes.data(), dm.data(), xq.data(), n), ref, 1e-5 * mag + 1e-6) << "dotprod " << name;
      }
#endif
    }
}

#if defined(__aarch64__)
// Codes at both ends of the range (0 and 2^bits - 1, 255 at 8 bits: the
// flip to signed must not lose them) against activations at +-127: the
// codes dot's integer part exactly, through d = 1, m = 0 and x.d = 1.
TEST(ParetoFormats, ArmCodesDotIsExactAtTheCodeRangeEnds) {
  const CpuFeatures& cpu = cpu_features();
  for (int bits : {2, 3, 4, 8})
    for (int64_t n : {32, 96, 128, 160, 544}) {
      std::vector<uint8_t> codes(static_cast<size_t>(n));
      std::vector<float> dm(static_cast<size_t>(n / 16));
      std::vector<Q8aBlock> xq(size_t(n / 32));
      int64_t want = 0;
      for (int64_t i = 0; i < n; ++i) {
        codes[size_t(i)] = uint8_t(i % 3 == 0 ? 0 : (1 << bits) - 1);
        const int8_t xi = int8_t(i % 5 < 3 ? 127 : -127);
        xq[size_t(i / 32)].qs[i % 32] = xi;
        want += int64_t(codes[size_t(i)]) * xi;
      }
      for (int64_t s = 0; s < n / 32; ++s) {
        xq[size_t(s)].d = 1.f;
        xq[size_t(s)].sum = 0;
        for (int8_t q : xq[size_t(s)].qs) xq[size_t(s)].sum += q;
        dm[size_t(2 * s)] = 1.f;
        dm[size_t(2 * s + 1)] = 0.f;
      }
      EXPECT_EQ(q8a_codes_dot_ref(codes.data(), dm.data(), xq.data(), n), float(want)) << bits << " bits n=" << n;
      EXPECT_EQ(neon::q8a_codes_dot(codes.data(), dm.data(), xq.data(), n), float(want)) << bits << " bits n=" << n;
      if (cpu.dotprod) {
        EXPECT_EQ(dotprod::q8a_codes_dot(codes.data(), dm.data(), xq.data(), n), float(want)) << bits << " bits n=" << n;
      }
    }
}
#endif

#if defined(__x86_64__) || defined(__aarch64__)  // the ISA kernels are built for these two
TEST(ParetoFormats, TokenQuantizationVariantMatchesReference) {
#if defined(__x86_64__)
  if (!have_vnni()) GTEST_SKIP() << "no AVX512-VNNI on this CPU: only the reference runs";
  const QuantizeTokenFn variant = avx512vnni::f32_q8tok_quantize;
#else
  const QuantizeTokenFn variant = neon::f32_q8tok_quantize;
#endif
  for (int64_t n : kLengths) {
    auto x = randn(size_t(n), 17, 3.f);
    // Exact ties at the scale amax / 127 (x * id lands on k + 0.5): rounded to even on both sides.
    if (n >= 4) x[0] = 127.f, x[1] = 2.5f, x[2] = -3.5f, x[3] = 0.5f;
    std::vector<uint8_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    float sa = 0, sb = 0;
    f32_q8tok_quantize_ref(x.data(), n, a.data(), &sa);
    variant(x.data(), n, b.data(), &sb);
    EXPECT_EQ(sa, sb);
    EXPECT_EQ(a, b) << "n=" << n;
  }
}
#endif

TEST(ParetoFormats, Q8RowGemmVariantMatchesReferenceOnAwkwardShapes) {
  for (int64_t n : {1, 7, 63, 64, 65, 172, 2048}) {
    for (int64_t rows : {1, 3, 4, 9}) {
      const int64_t tokens = 6;
      auto w = randn(size_t(rows * n), 19, 0.1f);
      std::vector<uint8_t> q(q8_row_size(n) * size_t(rows));
      for (int64_t r = 0; r < rows; ++r) quantize_q8_row_ref(w.data() + r * n, q.data() + q8_row_size(n) * size_t(r), n);
      auto x = randn(size_t(tokens * n), 23);
      std::vector<uint8_t> xq(size_t(tokens * n));
      std::vector<float> xs(static_cast<size_t>(tokens));
      for (int64_t t = 0; t < tokens; ++t) f32_q8tok_quantize_ref(x.data() + t * n, n, xq.data() + t * n, &xs[size_t(t)]);
      std::vector<float> ref(size_t(tokens * rows)), fast(size_t(tokens * rows));
      q8_row_gemm_ref(q.data(), n, 0, rows, xq.data(), xs.data(), tokens, ref.data(), rows);
      // Against float math on the dequantized operands.
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          std::vector<float> wd(static_cast<size_t>(n));
          dequantize_q8_row_ref(q.data() + q8_row_size(n) * size_t(r), wd.data(), n);
          double want = 0, mag = 0;
          for (int64_t i = 0; i < n; ++i) {
            const double xi = double(xs[size_t(t)]) * (int(xq[size_t(t * n + i)]) - 128);
            want += wd[size_t(i)] * xi;
            mag += std::fabs(wd[size_t(i)] * xi);
          }
          EXPECT_NEAR(ref[size_t(t * rows + r)], want, 1e-5 * mag + 1e-6);
        }
      // Integer sums: every variant gives the reference's floats exactly.
#if defined(__x86_64__)
      if (!have_vnni()) continue;
      avx512vnni::q8_row_gemm(q.data(), n, 0, rows, xq.data(), xs.data(), tokens, fast.data(), rows);
      EXPECT_EQ(ref, fast) << "n=" << n << " rows=" << rows;
#elif defined(__aarch64__)
      for (int64_t tok : {int64_t(1), int64_t(2), int64_t(5), tokens}) {
        std::vector<float> want(size_t(tok * rows));
        q8_row_gemm_ref(q.data(), n, 0, rows, xq.data(), xs.data(), tok, want.data(), rows);
        // Outputs past tok * rows must stay untouched (-1).
        want.resize(fast.size(), -1.f);
        if (cpu_features().dotprod) {
          std::fill(fast.begin(), fast.end(), -1.f);
          dotprod::q8_row_gemm(q.data(), n, 0, rows, xq.data(), xs.data(), tok, fast.data(), rows);
          EXPECT_EQ(want, fast) << "dotprod n=" << n << " rows=" << rows << " tokens=" << tok;
        }
        if (cpu_features().i8mm) {
          std::fill(fast.begin(), fast.end(), -1.f);
          i8mm::q8_row_gemm(q.data(), n, 0, rows, xq.data(), xs.data(), tok, fast.data(), rows);
          EXPECT_EQ(want, fast) << "i8mm n=" << n << " rows=" << rows << " tokens=" << tok;
        }
      }
#endif
    }
  }
}

// The matmul entry point on both formats, decode and prefill, 1 and 2 threads.
TEST(ParetoFormats, MatmulMatchesDequantizedProduct) {
  for (uint32_t type : {group_type(3, 64, true), group_type(4, 128, false), group_type(2, 32, true), kQ8RowType})
    for (int64_t cols : {40, 64, 172, 320})
      for (int64_t tokens : {1, 5}) {
        const int64_t rows = 37;
        auto w = randn(size_t(rows * cols), 29, 0.05f);
        const size_t rb = ggml_row_size(type, cols);
        std::vector<uint8_t> q(rb * size_t(rows));
        for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, w.data() + r * cols, q.data() + rb * size_t(r), cols);
        auto x = randn(size_t(tokens * cols), 31);
        WeightMatrix m{type, q.data(), rows, cols};
        for (int threads : {1, 2}) {
          set_num_threads(threads);
          std::vector<float> y(size_t(tokens * rows));
          matmul_weights(m, x.data(), tokens, y.data());
          std::vector<float> wd(static_cast<size_t>(cols));
          for (int64_t r = 0; r < rows; ++r) {
            weight_row(m, r, wd.data());
            for (int64_t t = 0; t < tokens; ++t) {
              double want = 0, mag = 0;
              for (int64_t i = 0; i < cols; ++i) {
                want += double(wd[size_t(i)]) * x[size_t(t * cols + i)];
                mag += std::fabs(double(wd[size_t(i)]) * x[size_t(t * cols + i)]);
              }
              // Activations are quantized to int8 on the integer paths.
              EXPECT_NEAR(y[size_t(t * rows + r)], want, 0.02 * mag + 1e-5) << ggml_type_traits(type).name << " cols=" << cols;
            }
          }
        }
        set_num_threads(1);
      }
}

TEST(ParetoFormats, GgufHoldsTailGroupTensors) {
  const uint32_t type = group_type(3, 64, true);
  const int64_t cols = 172, rows = 3;
  auto w = randn(size_t(rows * cols), 37);
  const size_t rb = ggml_row_size(type, cols);
  EXPECT_EQ(rb, 2 * group_block_bytes(group_format(type)) + 4 + (44 * 3 + 7) / 8);  // 64 + 64 + a tail of 44
  std::vector<uint8_t> q(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) quantize_row_ref(type, w.data() + r * cols, q.data() + rb * size_t(r), cols);
  const std::string path = ::testing::TempDir() + "pareto_formats_test.gguf";
  gguf::Writer wr;
  wr.set_u32("general.alignment", 32);
  wr.add_tensor("m.weight", type, {cols, rows}, q.data(), q.size());
  wr.add_tensor("r.weight", kQ8RowType, {cols, rows}, std::vector<uint8_t>(q8_row_size(cols) * rows).data(), q8_row_size(cols) * rows);
  EXPECT_ANY_THROW(wr.add_tensor("bad", type, {cols, rows}, q.data(), q.size() - 1));
  wr.write(path);
  auto f = gguf::File::open(path);
  const gguf::TensorInfo* t = f->tensor("m.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, type);
  ASSERT_EQ(t->nbytes, q.size());
  EXPECT_EQ(std::memcmp(t->data, q.data(), q.size()), 0);
  EXPECT_EQ(f->tensor("r.weight")->nbytes, q8_row_size(cols) * rows);
  std::remove(path.c_str());
}
