// Google Benchmark for GPTQ's per-input factor (quant::gptq_factor: the
// Hessian X^T X, then the inverse's upper Cholesky factor), the part of
// GPTQ that grows with the cube of the input width: TinyLlama's ffn_down
// reads 5632 inputs. 512 calibration tokens of correlated Gaussian inputs.
// Also GPTQ's rounding of one matrix given its factor (ffn_down's shape).
// Run: build/bench/pareto_gptq_bench --benchmark_filter='gptq_factor/5632'
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "quant/gptq.h"

namespace {

std::vector<float> inputs(int64_t tokens, int64_t cols) {
  std::mt19937 rng(5);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(size_t(tokens * cols));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t j = 0; j < cols; ++j) x[size_t(t * cols + j)] = d(rng) + (j ? 0.5f * x[size_t(t * cols + j - 1)] : 0.f);
  return x;
}

void gptq_factor(benchmark::State& state) {
  const int64_t cols = state.range(0);
  pareto::set_num_threads(int(state.range(1)));
  const std::vector<float> x = inputs(512, cols);
  for (auto _ : state) {
    const pareto::quant::GptqFactor f = pareto::quant::gptq_factor(x, cols);
    benchmark::DoNotOptimize(f.u.data());
  }
  pareto::set_num_threads(1);
}

// GPTQ's rounding of one matrix given the factor: rows x cols to Q4_K.
void gptq_quantize(benchmark::State& state) {
  const int64_t rows = state.range(0), cols = state.range(1);
  pareto::set_num_threads(int(state.range(2)));
  const std::vector<float> x = inputs(512, cols);
  const pareto::quant::GptqFactor f = pareto::quant::gptq_factor(x, cols);
  std::mt19937 rng(9);
  std::normal_distribution<float> d(0.f, 0.02f);
  std::vector<float> w(size_t(rows * cols));
  for (float& v : w) v = d(rng);
  for (auto _ : state) {
    const pareto::quant::GptqResult r = pareto::quant::gptq_quantize(w, rows, cols, f, 12 /* q4_K */);
    benchmark::DoNotOptimize(r.bytes.data());
  }
  pareto::set_num_threads(1);
}

}  // namespace

BENCHMARK(gptq_quantize)->Args({256, 2048, 1})->Args({2048, 5632, 1})->Args({2048, 5632, 2})->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(gptq_factor)->ArgsProduct({{768, 2048, 5632}, {1, 2}})->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK_MAIN();
