// Google Benchmark for one convolution in each precision on PP-OCR shapes:
// f32 (im2col / packed GEMM, small-k kernel or Winograd), bf16 and int8
// (im2col panels), at 1 and 2 threads (wall-clock rates), with GMAC/s to
// read against bench/isa_peaks.cpp.
// Run: build/bench/pareto_conv_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/bf16_conv.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "kernels/int8_conv.h"
#include "kernels/int8_matmul.h"
#include "kernels/u8_depthwise.h"

using namespace pareto::kernels;

namespace {

// cin, cout, h, w, k (square kernel, same padding), stride, threads
ConvParams params(const benchmark::State& s) {
  ConvParams p;
  p.c_in = s.range(0);
  p.c_out = s.range(1);
  p.h = s.range(2);
  p.w = s.range(3);
  p.kh = p.kw = s.range(4);
  p.stride_h = p.stride_w = s.range(5);
  p.pad_top = p.pad_left = s.range(4) / 2;
  p.out_h = (p.h + 2 * p.pad_top - p.kh) / p.stride_h + 1;
  p.out_w = (p.w + 2 * p.pad_left - p.kw) / p.stride_w + 1;
  return p;
}

void rate(benchmark::State& s, const ConvParams& p) {
  s.counters["GMAC/s"] = benchmark::Counter(double(p.c_out * p.c_in * p.kh * p.kw * p.out_h * p.out_w), benchmark::Counter::kIsIterationInvariantRate,
                                            benchmark::Counter::kIs1000);
}

std::vector<float> noise(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void BM_f32(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(6)));
  const ConvParams p = params(s);
  auto x = noise(size_t(p.c_in * p.h * p.w), 1), w = noise(size_t(p.c_out * p.c_in * p.kh * p.kw), 2), y = noise(size_t(p.c_out * p.h * p.w), 3);
  for (auto _ : s) f32_conv2d(p, x.data(), w.data(), nullptr, y.data());
  rate(s, p);
}

void BM_bf16(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(6)));
  const ConvParams p = params(s);
  auto x = noise(size_t(p.c_in * p.h * p.w), 1), w = noise(size_t(p.c_out * p.c_in * p.kh * p.kw), 2), y = noise(size_t(p.c_out * p.h * p.w), 3);
  const Bf16Weights packed = pack_bf16_weights(w.data(), p.c_out, p.c_in * p.kh * p.kw);
  for (auto _ : s) bf16_conv2d(p, x.data(), packed, nullptr, y.data());
  rate(s, p);
}

void BM_int8(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(6)));
  Int8ConvParams q;
  q.geo = params(s);
  const ConvParams& p = q.geo;
  const int64_t k = p.c_in * p.kh * p.kw;
  std::vector<uint8_t> x(size_t(p.c_in * p.h * p.w));
  std::vector<int8_t> w(size_t(p.c_out * k));
  std::mt19937 rng(4);
  for (auto& v : x) v = uint8_t(rng());
  for (auto& v : w) v = int8_t(rng());
  Int8Weights packed = pack_int8_weights(w.data(), true, p.c_out, k, nullptr, 0);
  prepare_shifted_weights(packed, p);  // as the runtime does: stride-1 kxk convs take the shifted form
  std::vector<float> scale(size_t(p.c_out), 1e-3f), y(size_t(p.c_out * p.out_h * p.out_w));
  q.x_zero = 3;
  q.out.kind = Int8Output::f32;
  q.out.scale = scale.data();
  for (auto _ : s) int8_conv2d(q, x.data(), packed, y.data());
  rate(s, p);
}

// The int8 GEMM alone (m weight rows, k, n pixels), to tell it from the
// conv's lowering and epilogue.
void BM_int8_gemm(benchmark::State& s) {
  const int64_t m = s.range(0), k4 = s.range(1), n = s.range(2), n16 = (n + 15) / 16 * 16;
  std::vector<int8_t> a(size_t(m * k4));
  std::vector<uint8_t> b(size_t(k4 * n16));
  std::mt19937 rng(5);
  for (auto& v : a) v = int8_t(rng());
  for (auto& v : b) v = uint8_t(rng());
  std::vector<int32_t> c(size_t(m * n));
  for (auto _ : s) int8_gemm(a.data(), k4, m, k4, b.data(), n, c.data(), n);
  s.counters["GMAC/s"] = benchmark::Counter(double(m * k4 * n), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// The int8 MatMul (rows x k by a constant k x n, float in and out): rows, k, n, threads.
void BM_int8_matmul(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(3)));
  const int64_t rows = s.range(0), k = s.range(1), n = s.range(2);
  std::vector<int8_t> w(size_t(k * n));
  std::mt19937 rng(6);
  for (auto& v : w) v = int8_t(rng());
  const Int8MatmulWeights packed = pack_int8_matmul_weights(w.data(), k, n);
  auto x = noise(size_t(rows * k), 1), scale = noise(size_t(n), 2), y = noise(size_t(rows * n), 3);
  for (auto _ : s) int8_matmul(x.data(), rows, packed, 0.02f, 128, scale.data(), y.data());
  s.counters["GMAC/s"] = benchmark::Counter(double(rows * k * n), benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// As the runtime runs a constant-weight conv: weights packed once (f32_gemm_pack_a,
// or the Winograd form where that applies). cin, cout, h, w, kh, kw, threads
// (stride 1, same padding): PP-OCRv4 rec's 1 x 3 neck convs on a short line's 1 x 12 map.
void BM_f32_packed(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(6)));
  ConvParams p;
  p.c_in = s.range(0);
  p.c_out = s.range(1);
  p.h = p.out_h = s.range(2);
  p.w = p.out_w = s.range(3);
  p.kh = s.range(4);
  p.kw = s.range(5);
  p.pad_top = p.kh / 2;
  p.pad_left = p.kw / 2;
  auto x = noise(size_t(p.c_in * p.h * p.w), 1), w = noise(size_t(p.c_out * p.c_in * p.kh * p.kw), 2), y = noise(size_t(p.c_out * p.h * p.w), 3);
  std::vector<float> packed;
  if (f32_conv_uses_packed_weights(p) && !winograd_applicable(p)) {
    GemmArgs a;
    a.m = p.c_out;
    a.k = p.c_in * p.kh * p.kw;
    a.a = w.data();
    a.lda = a.k;
    packed.resize(f32_gemm_packed_a_floats(a.m, a.k));
    f32_gemm_pack_a(a, packed.data());
    p.packed_weights = packed.data();
  }
  for (auto _ : s) f32_conv2d(p, x.data(), w.data(), nullptr, y.data());
  rate(s, p);
  s.SetLabel(p.packed_weights ? "packed" : "plain");
}

// Depthwise (group = channels): cin, -, h, w, k, stride, threads.
void BM_f32_depthwise(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(6)));
  ConvParams p = params(s);
  p.c_out = p.group = p.c_in;
  auto x = noise(size_t(p.c_in * p.h * p.w), 1), w = noise(size_t(p.c_in * p.kh * p.kw), 2), y = noise(size_t(p.c_out * p.out_h * p.out_w), 3);
  for (auto _ : s) f32_conv2d(p, x.data(), w.data(), nullptr, y.data());
  s.counters["GB/s"] = benchmark::Counter(double(4 * (p.c_in * p.h * p.w + p.c_out * p.out_h * p.out_w)), benchmark::Counter::kIsIterationInvariantRate,
                                          benchmark::Counter::kIs1000);
}

// The integer depthwise conv (uint8 input, int8 weights, float output; the
// runtime's path for a quantized model's depthwise convs): cin, h, w, k
// (square, same padding), stride_h (stride_w 1, as PP-OCR cls's (2, 1)), threads.
void BM_u8_depthwise(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(5)));
  ConvParams p;
  p.c_in = p.c_out = p.group = s.range(0);
  p.h = s.range(1);
  p.w = s.range(2);
  p.kh = p.kw = s.range(3);
  p.stride_h = s.range(4);
  p.pad_top = p.pad_left = p.kh / 2;
  p.out_h = (p.h + 2 * p.pad_top - p.kh) / p.stride_h + 1;
  p.out_w = p.w;
  if (!u8_depthwise_fast(p)) {
    s.SkipWithError("no AVX-512 VNNI + VBMI here: the integer depthwise kernel does not run");
    return;
  }
  std::mt19937 rng(7);
  std::vector<uint8_t> x(size_t(p.c_in * p.h * p.w));
  std::vector<int8_t> k(size_t(p.c_out * p.kh * p.kw));
  for (auto& v : x) v = uint8_t(rng());
  for (auto& v : k) v = int8_t(rng());
  const int64_t groups = u8_depthwise_tap_groups(p.kw);
  std::vector<int32_t> quads(size_t(p.c_out * p.kh * groups)), row_sums(size_t(p.c_out * p.kh), 0);
  for (int64_t c = 0; c < p.c_out; ++c) {
    u8_depthwise_weight_quads(k.data() + c * p.kh * p.kw, p.kh, p.kw, quads.data() + c * p.kh * groups);
    for (int64_t t = 0; t < p.kh * p.kw; ++t) row_sums[size_t(c * p.kh + t / p.kw)] += k[size_t(c * p.kh * p.kw + t)];
  }
  std::vector<float> scale(size_t(p.c_out), 1e-3f), y(size_t(p.c_out * p.out_h * p.out_w));
  p.quant_in = {x.data(), 0.02f, 3};
  p.int8_weights = {quads.data(), row_sums.data(), scale.data()};
  // PARETO_BENCH_EPILOGUE=1: as PP-OCRv4's convs finish, HardSwish, then
  // PP-LCNetV3's learnable affine, then the rounding to uint8.
  std::vector<uint8_t> rounded(size_t(p.c_out * p.out_h * p.out_w));
  if (const char* e = std::getenv("PARETO_BENCH_EPILOGUE"); e && std::string(e) == "1") {
    p.epilogue.act.kind = ActKind::hard_swish;
    p.epilogue.act.scale = 1.1f;
    p.epilogue.act.shift = 0.1f;
    p.quant_out = {rounded.data(), 0.05f, 3};
    s.SetLabel("HardSwish + affine + uint8");
  }
  for (auto _ : s) f32_conv2d(p, nullptr, nullptr, nullptr, y.data());
  s.counters["GMAC/s"] = benchmark::Counter(double(p.c_out * p.kh * p.kw * p.out_h * p.out_w), benchmark::Counter::kIsIterationInvariantRate,
                                            benchmark::Counter::kIs1000);
}

// Transposed 2x2 stride-2 conv (the DB head's upsampling): cin, cout, h, w, threads.
void BM_f32_transpose(benchmark::State& s) {
  pareto::set_num_threads(int(s.range(4)));
  ConvParams p;
  p.c_in = s.range(0);
  p.c_out = s.range(1);
  p.h = s.range(2);
  p.w = s.range(3);
  p.kh = p.kw = p.stride_h = p.stride_w = 2;
  p.out_h = 2 * p.h;
  p.out_w = 2 * p.w;
  auto x = noise(size_t(p.c_in * p.h * p.w), 1), w = noise(size_t(p.c_out * p.c_in * 4), 2), y = noise(size_t(p.c_out * p.out_h * p.out_w), 3);
  for (auto _ : s) f32_conv_transpose2d(p, x.data(), w.data(), nullptr, y.data());
  s.counters["GMAC/s"] = benchmark::Counter(double(p.c_out * p.c_in * 4 * p.h * p.w), benchmark::Counter::kIsIterationInvariantRate,
                                            benchmark::Counter::kIs1000);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int t : {1, 2}) b->Args({480, 480, 6, 80, 1, 1, t});   // rec 1x1, 480 -> 480
  for (int t : {1, 2}) b->Args({240, 240, 12, 80, 1, 1, t});  // rec 1x1, 240 -> 240
  for (int t : {1, 2}) b->Args({96, 24, 160, 160, 3, 1, t});  // det head 3x3, 96 -> 24 (f32: Winograd)
  for (int t : {1, 2}) b->Args({16, 32, 320, 320, 1, 1, t});  // det early 1x1, 16 -> 32
  for (int t : {1, 2}) b->Args({24, 96, 160, 160, 1, 1, t});  // det 1x1, 24 -> 96
  for (int t : {1, 2}) b->Args({48, 48, 160, 160, 1, 1, t});  // det 1x1, 48 -> 48
  for (int t : {1, 2}) b->Args({96, 96, 80, 80, 1, 1, t});    // det 1x1, 96 -> 96
  for (int t : {1, 2}) b->Args({3, 16, 640, 640, 3, 2, t});   // det stem 3x3 stride 2, 3 -> 16
  for (int t : {1, 2}) b->Args({192, 192, 40, 40, 1, 1, t});  // det 1x1, 192 -> 192
  for (int t : {1, 2}) b->Args({384, 384, 20, 20, 1, 1, t});  // det 1x1, 384 -> 384 (weights outweigh the map)
  b->Args({3, 8, 48, 192, 3, 2, 1});                         // cls stem 3x3 stride 2, 3 -> 8
}

}  // namespace

BENCHMARK(BM_f32)->Name("conv_f32")->Apply(shapes)->UseRealTime();
BENCHMARK(BM_bf16)->Name("conv_bf16")->Apply(shapes)->UseRealTime();
BENCHMARK(BM_int8)->Name("conv_int8")->Apply(shapes)->UseRealTime();
// PP-OCR cls's squeeze-excite convs: one pixel (a pooled vector), 200 -> 50 and 50 -> 200.
BENCHMARK(BM_f32)->Name("conv_f32_pixel")->Args({200, 50, 1, 1, 1, 1, 1})->Args({50, 200, 1, 1, 1, 1, 1})->UseRealTime();
BENCHMARK(BM_int8)->Name("conv_int8_pixel")->Args({200, 50, 1, 1, 1, 1, 1})->Args({50, 200, 1, 1, 1, 1, 1})->UseRealTime();
BENCHMARK(BM_f32_packed)->Name("conv_f32_packed")->Args({960, 60, 1, 12, 1, 3, 1})->Args({480, 60, 1, 12, 1, 3, 1})
    ->Args({960, 60, 1, 40, 1, 3, 1})->Args({120, 480, 1, 12, 1, 1, 1})->UseRealTime();
BENCHMARK(BM_f32_depthwise)->Name("conv_depthwise_f32")->Args({16, 16, 320, 320, 3, 1, 1})->Args({32, 32, 320, 320, 3, 2, 1})
    ->Args({48, 48, 160, 160, 3, 1, 1})->Args({192, 192, 40, 40, 5, 1, 1})
    ->Args({200, 200, 2, 96, 5, 1, 1})->Args({88, 88, 3, 96, 5, 1, 1})  // PP-OCR cls's short maps
    ->Args({480, 480, 3, 48, 5, 1, 1})->Args({240, 240, 6, 48, 5, 1, 1})->UseRealTime();  // PP-OCRv4 rec's 5x5 on a 48 x 96 line's 3 x 48 and 6 x 48 maps
// PP-OCR cls's 5x5 (stride 1 and (2, 1)) and 3x3 on 2-12 row maps; det's 5x5 on 40x40 and 3x3 on 80x80 / 160x160.
BENCHMARK(BM_u8_depthwise)->Name("conv_u8_depthwise")->Args({200, 2, 96, 5, 1, 1})->Args({88, 3, 96, 5, 1, 1})->Args({104, 3, 96, 5, 2, 1})
    ->Args({32, 6, 96, 3, 1, 1})->Args({24, 12, 96, 3, 2, 1})->Args({192, 40, 40, 5, 1, 1})->Args({96, 80, 80, 3, 1, 1})->Args({48, 160, 160, 3, 1, 1})
    ->Args({192, 40, 40, 5, 1, 2})->Args({480, 3, 48, 5, 1, 1})->Args({240, 6, 48, 5, 1, 1})->Args({240, 12, 24, 5, 1, 1})->UseRealTime();
BENCHMARK(BM_f32_transpose)->Name("conv_transpose_f32")->Args({24, 24, 160, 160, 1})->Args({24, 1, 320, 320, 1})->Args({24, 24, 160, 160, 2})->UseRealTime();
// PP-OCR rec's classifier head (40 x 120 by 120 x 6625) and an SVTR projection (40 x 120 by 120 x 360).
BENCHMARK(BM_int8_matmul)->Name("int8_matmul")->Args({40, 120, 6625, 1})->Args({40, 120, 6625, 2})->Args({40, 120, 360, 1})->UseRealTime();
BENCHMARK(BM_int8_gemm)->Name("int8_gemm")->Args({192, 192, 224})->Args({480, 480, 112})->Args({192, 192, 1600});

BENCHMARK_MAIN();
