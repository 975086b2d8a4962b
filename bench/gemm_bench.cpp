// Google Benchmark for the f32 GEMM variants (the shapes PP-OCR's convs and
// matmuls produce). Run: build/bench/pareto_gemm_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/gemm.h"

using namespace pareto::kernels;

namespace {

template <GemmFn fn>
void BM_gemm(benchmark::State& state) {
  int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> a(size_t(m * k)), b(size_t(k * n)), c(size_t(m * n));
  for (float& x : a) x = d(rng);
  for (float& x : b) x = d(rng);
  GemmArgs g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.a = a.data();
  g.lda = k;
  g.b = b.data();
  g.ldb = n;
  g.c = c.data();
  g.ldc = n;
  for (auto _ : state) {
    fn(g);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(double(2 * m * n * k), benchmark::Counter::kIsIterationInvariantRate,
                                                  benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->Args({24, 2048, 864});   // det 3x3 conv, 96 -> 24 channels, one column block
  b->Args({96, 4096, 24});    // det 1x1 expansion
  b->Args({40, 6625, 120});   // rec classifier MatMul
  b->Args({64, 64, 64});
  b->Args({24, 32, 96});     // one Winograd position: 96 -> 24 channels, 32 tiles
  b->Args({60, 40, 2880});    // rec neck 1x3 conv, 960 -> 60 channels on a 1x40 map
  b->Args({16, 3840, 27});    // rec first conv, 3 -> 16 channels, 3x3 stride 2
  b->Args({480, 600, 480});   // rec 1x1 conv, 480 -> 480 channels on a 6x100 map
}

}  // namespace

BENCHMARK(BM_gemm<f32_gemm_ref>)->Name("f32_gemm_ref")->Apply(shapes);
BENCHMARK(BM_gemm<avx2::f32_gemm_blocked>)->Name("f32_gemm_avx2")->Apply(shapes);
BENCHMARK(BM_gemm<avx512::f32_gemm_blocked>)->Name("f32_gemm_avx512")->Apply(shapes);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // Variants this CPU cannot run are filtered out rather than crashing.
  std::string filter = best_isa_level() >= IsaLevel::avx512 ? "" : best_isa_level() >= IsaLevel::avx2 ? "-.*avx512.*" : "-.*avx.*";
  if (!filter.empty()) benchmark::SetBenchmarkFilter(filter);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
