#include "kernels/peak_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "core/cpu.h"

#if defined(__x86_64__)
#include <immintrin.h>
// GCC 12's reduce intrinsics read an uninitialized temporary (harmless).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace pareto::kernels {

namespace {

using Clock = std::chrono::steady_clock;

#if defined(__x86_64__)
#define R16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

__attribute__((target("avx512f,avx512vnni"))) double int8_gmacs(long steps) {
#define DI(i) __m512i a##i = _mm512_set1_epi32(i);
  R16(DI)
  const __m512i x = _mm512_set1_epi32(0x01010101), y = _mm512_set1_epi32(0x02020202);
  const auto t0 = Clock::now();
#define STEP(i) a##i = _mm512_dpbusd_epi32(a##i, x, y);
  for (long n = 0; n < steps; ++n) { R16(STEP) }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  int sink = 0;
#define SUM(i) sink += _mm512_reduce_add_epi32(a##i);
  R16(SUM)
  __asm__ volatile("" ::"r"(sink));
  return double(steps) * 16 * 64 / s / 1e9;
#undef STEP
#undef SUM
}

__attribute__((target("avx512f,fma"))) double f32_gmacs(long steps) {
#define DF(i) __m512 f##i = _mm512_set1_ps(float(i));
  R16(DF)
  const __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
  const auto t0 = Clock::now();
#define STEP(i) f##i = _mm512_fmadd_ps(f##i, x, y);
  for (long n = 0; n < steps; ++n) { R16(STEP) }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  float sink = 0;
#define SUM(i) sink += _mm512_reduce_add_ps(f##i);
  R16(SUM)
  __asm__ volatile("" ::"x"(sink));
  return double(steps) * 16 * 16 / s / 1e9;
#undef STEP
#undef SUM
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_gmacs(long steps) {
  R16(DF)
  const __m512bh x = __m512bh(_mm512_set1_epi32(0x3f803f80));
  const auto t0 = Clock::now();
#define STEP(i) f##i = _mm512_dpbf16_ps(f##i, x, x);
  for (long n = 0; n < steps; ++n) { R16(STEP) }
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  float sink = 0;
#define SUM(i) sink += _mm512_reduce_add_ps(f##i);
  R16(SUM)
  __asm__ volatile("" ::"x"(sink));
  return double(steps) * 16 * 32 / s / 1e9;
#undef STEP
#undef SUM
}
#undef DF
#undef DI
#undef R16
#endif

}  // namespace

PeakRates measure_peak_gmacs(long steps) {
  PeakRates r;
  if (steps <= 0) return r;
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (f.avx512f && f.fma) r.f32 = f32_gmacs(steps);
  if (f.avx512f && f.avx512bf16) r.bf16 = bf16_gmacs(steps);
  if (f.avx512f && f.avx512vnni) r.int8 = int8_gmacs(steps);
#endif
  return r;
}

double measure_f32_gmacs_together(int threads, long steps) {
#if defined(__x86_64__)
  const CpuFeatures& f = cpu_features();
  if (threads < 1 || steps <= 0 || !f.avx512f || !f.fma) return 0;
  // All the work over one wall-clock window, from the first thread's start
  // to the last one's end: threads taking turns on one core in slices
  // longer than a probe would each time themselves at full speed. Each
  // thread reads the clock itself: the caller, a thread too, may be
  // descheduled between releasing them and reading it, and the workers
  // then finish before its start time (2 vCPUs: a 150x "rate").
  std::latch start(threads);
  std::vector<Clock::time_point> begins(static_cast<size_t>(threads)), ends(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i)
    pool.emplace_back([&, i] {
      start.arrive_and_wait();
      begins[size_t(i)] = Clock::now();
      f32_gmacs(steps);
      ends[size_t(i)] = Clock::now();
    });
  for (std::thread& t : pool) t.join();
  const double s = std::chrono::duration<double>(*std::max_element(ends.begin(), ends.end()) -
                                                 *std::min_element(begins.begin(), begins.end()))
                       .count();
  return double(threads) * double(steps) * 16 * 16 / s / 1e9;
#else
  (void)threads;
  (void)steps;
  return 0;
#endif
}

HandoffTimes measure_handoff(int rounds) {
  HandoffTimes h;
  if (rounds < 1) return h;
  // turn: 1 the other thread's move, 0 this one's, -1 stop. Capped at half
  // a second: with one core (or the other vCPU descheduled) each round
  // costs a scheduler time slice.
  alignas(64) std::atomic<int> turn{0};
  std::thread other([&] {
    for (;;) {
      int t;
      while ((t = turn.load(std::memory_order_acquire)) == 0) {
      }
      if (t < 0) return;
      turn.store(0, std::memory_order_release);
    }
  });
  std::vector<double> ns;
  ns.reserve(static_cast<size_t>(rounds));
  const auto start = Clock::now();
  for (int i = 0; i < rounds && Clock::now() - start < std::chrono::milliseconds(500); ++i) {
    const auto t0 = Clock::now();
    turn.store(1, std::memory_order_release);
    while (turn.load(std::memory_order_acquire) != 0) {
    }
    ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
  }
  turn.store(-1, std::memory_order_release);
  other.join();
  std::sort(ns.begin(), ns.end());
  h.rounds = int(ns.size());
  h.median_ns = ns[ns.size() / 2];
  h.max_ns = ns.back();
  return h;
}

}  // namespace pareto::kernels
