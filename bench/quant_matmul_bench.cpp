// Google Benchmark for the quantized matmul paths on one weight matrix larger
// than the last-level cache: GGML-layout Q4_0 row kernels vs the repacked
// layout, decode (1 token) and prefill (tiles of tokens). Reports weight
// bytes per second (decode is bounded by DRAM bandwidth) and GOP/s.
// Run: build/bench/pareto_quant_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "core/file.h"
#include "core/thread_pool.h"
#include "kernels/matmul_q.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

using namespace pareto::kernels;

namespace {

struct Q4Matrix {
  std::vector<uint8_t> ggml;
  std::shared_ptr<void> packed;
  WeightMatrix native, repacked;
  Q4Matrix(int64_t rows, int64_t cols) {
    std::mt19937 rng(7);
    std::normal_distribution<float> d(0.f, 0.02f);
    std::vector<float> row(static_cast<size_t>(cols));
    const size_t rb = ggml_row_size(uint32_t(GgmlType::q4_0), cols);
    ggml.resize(rb * size_t(rows));
    for (int64_t r = 0; r < rows; ++r) {
      for (float& v : row) v = d(rng);
      quantize_row_ref(uint32_t(GgmlType::q4_0), row.data(), ggml.data() + size_t(r) * rb, cols);
    }
    const size_t qs_bytes = packed_qs_bytes(PackedKind::q4_0, rows, cols);
    packed = pareto::allocate_large(qs_bytes + packed_meta_bytes(PackedKind::q4_0, rows, cols));
    uint8_t* qs = static_cast<uint8_t*>(packed.get());
    uint8_t* meta = qs + qs_bytes;
    pack_rows(PackedKind::q4_0, ggml.data(), cols, 0, rows, qs, meta);
    native = WeightMatrix{uint32_t(GgmlType::q4_0), ggml.data(), rows, cols};
    repacked = native;
    repacked.data = qs;
    repacked.packed_meta = meta;
  }
};

void BM_q4_0(benchmark::State& state, bool packed) {
  const int64_t rows = state.range(0), cols = state.range(1), tokens = state.range(2);
  pareto::set_num_threads(int(state.range(3)));
  static Q4Matrix* m = nullptr;
  if (!m || m->native.rows != rows || m->native.cols != cols) {
    delete m;
    m = new Q4Matrix(rows, cols);
  }
  std::vector<float> x(size_t(tokens * cols), 0.5f), y(size_t(tokens * rows));
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i * 7919 % 200) - 100) / 100.f;
  for (auto _ : state) {
    matmul_weights(packed ? m->repacked : m->native, x.data(), tokens, y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(double(m->ggml.size()), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["GOP/s"] = benchmark::Counter(double(2 * rows * cols * tokens), benchmark::Counter::kIsIterationInvariantRate,
                                               benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    b->Args({32768, 4096, 1, threads});   // 72 MiB: decode, twice the L3
    b->Args({5632, 2048, 64, threads});   // TinyLlama ffn_up, prefill tile
    b->Args({512, 2048, 1, threads});     // 0.56 MiB: decode from L2, the compute bound
  }
}

}  // namespace

BENCHMARK_CAPTURE(BM_q4_0, rows, false)->Name("q4_0_ggml_rows")->Apply(shapes)->UseRealTime();
BENCHMARK_CAPTURE(BM_q4_0, packed, true)->Name("q4_0_packed")->Apply(shapes)->UseRealTime();

BENCHMARK_MAIN();
