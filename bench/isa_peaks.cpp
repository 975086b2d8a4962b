// The multiply-add peak of one core per precision: 16 independent register
// chains of one instruction, no memory operands (VPDPBUSD for int8,
// VFMADD231PS for f32, VDPBF16PS for bf16; 512-bit). A ceiling to read
// kernel rates against (GMAC/s = multiply-adds per second): on the AMD EPYC
// (Zen 4) of this project's measurements about 180-210 int8, 56 f32, 112
// bf16, so int8 can be at most ~3.5x f32 there. Skips what the CPU lacks.
// usage: build/bench/pareto_isa_peaks
// GCC 12's reduce intrinsics read an uninitialized temporary (harmless).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <chrono>
#include <cstdio>

#define R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

namespace {

using Clock = std::chrono::steady_clock;
constexpr long kSteps = 100000000 / 16;

__attribute__((target("avx512f,avx512vnni"))) double int8_gmacs() {
#define DI(i) __m512i a##i = _mm512_set1_epi32(i);
  R16(DI)
  const __m512i x = _mm512_set1_epi32(0x01010101), y = _mm512_set1_epi32(0x02020202);
  const auto t0 = Clock::now();
#define STEP(i) a##i = _mm512_dpbusd_epi32(a##i, x, y);
  for (long n = 0; n < kSteps; ++n) { R16(STEP) }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  int sink = 0;
#define SUM(i) sink += _mm512_reduce_add_epi32(a##i);
  R16(SUM)
  __asm__ volatile("" ::"r"(sink));
  return double(kSteps) * 16 * 64 / s / 1e9;
#undef STEP
#undef SUM
}

__attribute__((target("avx512f,fma"))) double f32_gmacs() {
#define DF(i) __m512 f##i = _mm512_set1_ps(float(i));
  R16(DF)
  const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
  const auto t0 = Clock::now();
#define STEP(i) f##i = _mm512_fmadd_ps(f##i, x, y);
  for (long n = 0; n < kSteps; ++n) { R16(STEP) }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  float sink = 0;
#define SUM(i) sink += _mm512_reduce_add_ps(f##i);
  R16(SUM)
  __asm__ volatile("" ::"x"(sink));
  return double(kSteps) * 16 * 16 / s / 1e9;
#undef STEP
#undef SUM
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_gmacs() {
  R16(DF)
  const __m512bh x = __m512bh(_mm512_set1_epi32(0x3f803f80));
  const auto t0 = Clock::now();
#define STEP(i) f##i = _mm512_dpbf16_ps(f##i, x, x);
  for (long n = 0; n < kSteps; ++n) { R16(STEP) }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  float sink = 0;
#define SUM(i) sink += _mm512_reduce_add_ps(f##i);
  R16(SUM)
  __asm__ volatile("" ::"x"(sink));
  return double(kSteps) * 16 * 32 / s / 1e9;
}

}  // namespace

int main() {
  __builtin_cpu_init();
  for (int round = 0; round < 3; ++round) {
    std::printf("round %d:", round);
    if (__builtin_cpu_supports("avx512vnni")) std::printf("  int8 (vpdpbusd) %6.1f GMAC/s", int8_gmacs());
    if (__builtin_cpu_supports("avx512f")) std::printf("  f32 (vfmadd231ps) %6.1f GMAC/s", f32_gmacs());
    if (__builtin_cpu_supports("avx512bf16")) std::printf("  bf16 (vdpbf16ps) %6.1f GMAC/s", bf16_gmacs());
    std::printf("\n");
  }
  return 0;
}
