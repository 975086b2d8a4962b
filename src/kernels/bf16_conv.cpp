#include "kernels/bf16_conv.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/cpu.h"
#include "kernels/dispatch.h"
#include "kernels/tile_choice.h"
#include "kernels/scratch.h"
#include "pareto/dtype.h"

namespace pareto::kernels {

Bf16Weights pack_bf16_weights(const float* w, int64_t rows, int64_t k) {
  Bf16Weights p;
  p.rows = rows;
  p.k = k;
  p.k2 = (k + 1) / 2;
  p.data.assign(size_t(rows * 2 * p.k2), 0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < k; ++i) p.data[size_t(r * 2 * p.k2 + i)] = float_to_bf16(w[r * k + i]);
  if (bf16_tile_gemm()) {
    p.k32 = (p.k2 + 15) / 16 * 16;
    p.tiles.assign(size_t((rows + 16) * 2 * p.k32), 0);
    for (int64_t r = 0; r < rows; ++r) std::copy_n(p.data.data() + r * 2 * p.k2, 2 * p.k2, p.tiles.data() + r * 2 * p.k32);
  }
  return p;
}

namespace {
TileChoice<Bf16TileGemm> tile_choice;
}  // namespace

Bf16TileGemm bf16_tile_gemm() {
  static const Bf16TileGemm automatic = [] {
#if defined(__x86_64__)
    if (cpu_features().amx_bf16 && amx_allowed() && amx_tile_state_granted()) return &amx::bf16_gemm_tiles;
#endif
    return static_cast<Bf16TileGemm>(nullptr);
  }();
  return tile_choice.get(automatic);
}

void set_bf16_tile_gemm(Bf16TileGemm gemm) { tile_choice.set(gemm); }
void reset_bf16_tile_gemm() { tile_choice.reset(); }

bool bf16_conv_preferred(const ConvParams& p) {
  const bool depthwise = p.group == p.c_in && p.group > 1;
  // Small GEMMs (squeeze-excite 1x1s on one pixel, a few channels) gain
  // less from faster multiplies than they pay for rounding and packing.
  const bool big_enough = p.c_in / p.group * p.kh * p.kw >= 32 && p.c_out / p.group >= 16 && p.out_h * p.out_w >= 64;
  return !depthwise && big_enough && !winograd_applicable(p);
}

bool bf16_conv_native() {
  static const bool native = [] {
    const CpuFeatures& f = cpu_features();
    if (kBuildArm64) {  // PARETO_ISA=neon|dotprod cap the level below BF16
      const char* isa = std::getenv("PARETO_ISA");
      return kernel_table().level == IsaLevel::neon && f.arm_bf16 && !(isa && (!std::strcmp(isa, "neon") || !std::strcmp(isa, "dotprod")));
    }
    return kernel_table().level == IsaLevel::avx512 && f.avx512bf16 && f.avx512bw && f.avx512vl;
  }();
  return native;
}

bool bf16_conv_available() { return bf16_conv_native() || bf16_tile_gemm() != nullptr; }

void bf16_gemm_ref(const uint16_t* a, int64_t lda, int64_t m, int64_t k2, const uint16_t* b, int64_t n, float* c, int64_t ldc, bool accumulate) {
  const int64_t n16 = (n + 15) / 16 * 16;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc = accumulate ? c[r * ldc + j] : 0.f;
      for (int64_t p = 0; p < k2; ++p)
        for (int h = 0; h < 2; ++h) acc += bf16_to_float(a[r * lda + 2 * p + h]) * bf16_to_float(b[(p * n16 + j) * 2 + h]);
      c[r * ldc + j] = acc;
    }
}

void bf16_pack_pair_ref(const float* r0, const float* r1, int64_t count, int64_t n16, uint16_t* out) {
  for (int64_t q = 0; q < n16; ++q) {
    out[2 * q] = q < count ? float_to_bf16(r0[q]) : 0;
    out[2 * q + 1] = q < count && r1 ? float_to_bf16(r1[q]) : 0;
  }
}

namespace {

// One tile (its columns lowered), packed to bf16 pairs, multiplied and
// finished by one thread while it is in cache.
void bf16_tile(const ConvParams& p, const ConvTile& t, const Bf16Weights& w, const float* bias, float* y, bool native, Bf16TileGemm tile) {
  const int64_t cout_g = p.c_out / p.group, plane = p.out_h * p.out_w, kdim = p.c_in / p.group * p.kh * p.kw;
  const int64_t count = t.count, ld = t.ld;
  const float* src = t.src;
  const int64_t n16 = (count + 15) / 16 * 16;
  const int64_t pairs = tile ? w.k32 : w.k2;  // the tile GEMM reads k-pairs up to k32: zero ones past k2
  uint16_t* panel = thread_scratch<uint16_t, 0>(size_t(pairs * n16 * 2));
  std::fill(panel + w.k2 * n16 * 2, panel + pairs * n16 * 2, uint16_t(0));
  for (int64_t q = 0; q < w.k2; ++q) {
    const float* r1 = 2 * q + 1 < kdim ? src + (2 * q + 1) * ld : nullptr;
    if (native) {  // only ever true on the two architectures below
      if constexpr (kBuildX86) avx512bf16::bf16_pack_pair(src + 2 * q * ld, r1, count, n16, panel + q * n16 * 2);
      else if constexpr (kBuildArm64) armbf16::bf16_pack_pair(src + 2 * q * ld, r1, count, n16, panel + q * n16 * 2);
      continue;
    }
    bf16_pack_pair_ref(src + 2 * q * ld, r1, count, n16, panel + q * n16 * 2);
  }
  if (bias) conv_tile_fill_bias(p, t, bias);
  float* yg = t.yg;
  const uint16_t* a = w.data.data() + t.g * cout_g * 2 * w.k2;
  if (tile) tile(w.tiles.data() + t.g * cout_g * 2 * w.k32, 2 * w.k32, cout_g, w.k32, panel, count, yg, plane, bias != nullptr);
  else if (!native) bf16_gemm_ref(a, 2 * w.k2, cout_g, w.k2, panel, count, yg, plane, bias != nullptr);
  else if constexpr (kBuildX86) avx512bf16::bf16_gemm(a, 2 * w.k2, cout_g, w.k2, panel, count, yg, plane, bias != nullptr);
  else if constexpr (kBuildArm64) armbf16::bf16_gemm(a, 2 * w.k2, cout_g, w.k2, panel, count, yg, plane, bias != nullptr);
  conv_tile_epilogue(p, t, y);
}

}  // namespace

void bf16_conv2d(const ConvParams& p, const float* x, const Bf16Weights& w, const float* bias, float* y) {
  const bool native = bf16_conv_native();
  const Bf16TileGemm tile = w.tiles.empty() ? nullptr : bf16_tile_gemm();
  for_each_gemm_conv_tile(p, x, y, [&](const ConvTile& t) { bf16_tile(p, t, w, bias, y, native, tile); });
}

void bf16_conv2d_ref(const ConvParams& p, const float* x, const float* w, const float* bias, float* y) {
  // The f32 oracle on operands rounded to bf16 (their products are exact in
  // f32 and its sums are in double), then the epilogue.
  auto rounded = [](const float* v, int64_t n) {
    std::vector<float> r(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) r[size_t(i)] = bf16_to_float(float_to_bf16(v[i]));
    return r;
  };
  const std::vector<float> xr = rounded(x, p.n * p.c_in * p.h * p.w), wr = rounded(w, p.c_out * (p.c_in / p.group) * p.kh * p.kw);
  f32_conv2d_ref(p, xr.data(), wr.data(), bias, y);
  apply_activation_generic(p.epilogue.act, y, p.epilogue.residual, p.n * p.c_out * p.out_h * p.out_w);
}

}  // namespace pareto::kernels
