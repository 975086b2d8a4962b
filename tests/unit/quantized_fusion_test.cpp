// The compiler's quantized forms against what the QDQ graph says: a
// depthwise conv of a QDQ file (Q -> DQ -> depthwise Conv, folded into a
// conv reading its input on the uint8 grid) computes the unfolded graph's
// values up to float rounding; an int8 conv that writes uint8 for its int8
// reader gives the reader the bytes it would round itself, also where the
// int8 kernel does not run it (float Winograd on the rounded input, as on
// AMX machines: the AMX tiles emulated here).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "core/cpu.h"
#include "frontend/onnx/onnx_loader.h"
#include "frontend/onnx/onnx_writer.h"
#include "kernel_test_util.h"
#include "kernels/int8_conv.h"
#include "kernels/u8_depthwise.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"
#include "quant/onnx_qdq.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;
using pareto::testing::uniform;

namespace pareto::kernels::amx_emulated {
void int8_gemm_tiles(const int8_t* a, int64_t lda, int64_t m, int64_t k64, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc);
}

namespace {

int rewrites(const Session& s, const std::string& what) {
  int n = 0;
  for (const PassSummary& p : s.passes())
    for (const auto& [w, count] : p.rewrites) n += w.find(what) != std::string::npos ? count : 0;
  return n;
}

std::vector<Tensor> run_session(const std::string& path, bool optimize, const std::map<std::string, Tensor>& in, int* folded = nullptr,
                                int* rounded = nullptr) {
  SessionOptions o;
  o.optimize = optimize;
  auto s = Session::open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  if (!s.ok()) return {};
  if (folded) *folded = rewrites(*s.value(), "depthwise Conv on uint8");
  if (rounded) *rounded = rewrites(*s.value(), "int8 conv -> uint8 for quantized convs");
  auto y = s.value()->run(in);
  EXPECT_TRUE(y.ok()) << y.status().to_string();
  return y.ok() ? y.value() : std::vector<Tensor>{};
}

double max_abs_diff(const Tensor& a, const Tensor& b, double* scale) {
  double m = 0;
  *scale = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    m = std::max(m, double(std::abs(a.data<float>()[i] - b.data<float>()[i])));
    *scale = std::max(*scale, double(std::abs(a.data<float>()[i])));
  }
  return m;
}

Msg u8_scalar(const std::string& name, uint8_t v) {
  Msg t;
  t.i(2, 2).s(8, name);
  return t.s(9, std::string(1, char(v)));
}

// x -> QuantizeLinear(sx, zx) -> DequantizeLinear -> GlobalAveragePool (p) -> QuantizeLinear(sy, zy) -> y
void add_quantized_pool(Msg& g, const std::string& sx, const std::string& zx, const std::string& sy, const std::string& zy) {
  g.m(1, pb::node("QuantizeLinear", {"x", sx, zx}, {"xq"}, "q1"));
  g.m(1, pb::node("DequantizeLinear", {"xq", sx, zx}, {"xd"}, "dq1"));
  g.m(1, pb::node("GlobalAveragePool", {"xd"}, {"p"}, "gap"));
  g.m(1, pb::node("QuantizeLinear", {"p", sy, zy}, {"y"}, "q2"));
}

}  // namespace

TEST(QuantizedFusion, DepthwiseConvOfAQdqFileComputesWhatTheGraphSays) {
  for (int64_t stride : {1, 2}) {
    Msg g;
    g.m(5, pb::tensor_f32("w", {8, 1, 3, 3}, uniform(72, 11)));
    g.m(5, pb::tensor_f32("b", {8}, uniform(8, 12)));
    g.m(1, pb::node("Conv", {"x", "w", "b"}, {"y"}, "dw",
                    {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1}), pb::attr_ints("strides", {stride, stride}),
                     pb::attr_int("group", 8)}));
    g.s(2, "qdq_depthwise");
    g.m(11, pb::value_info("x", 1, {1, 8, 13, 37}));
    g.m(12, pb::value_info("y", 1, {}));
    const std::string bytes = pb::model(g, 13).bytes;
    const ir::Model m = onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "dw.onnx", "");
    auto x_of = [](uint32_t seed) { return Tensor::from_vector<float>(uniform(8 * 13 * 37, seed, -3.f, 3.f), {1, 8, 13, 37}); };
    quant::OnnxQuantOptions o;
    o.keep_first_last = false;
    o.quantize_depthwise = true;
    o.method = quant::CalibMethod::minmax;
    const std::string path = pareto::testing::scratch_dir() + "/qdq_depthwise_" + std::to_string(stride) + ".onnx";
    onnx::save_model(quant::quantize_onnx(m, {{x_of(1)}, {x_of(2)}}, o, nullptr), path);
    const std::map<std::string, Tensor> in = {{"x", x_of(3)}};
    int folded = 0;
    const std::vector<Tensor> plain = run_session(path, false, in), optimized = run_session(path, true, in, &folded);
    ASSERT_EQ(plain.size(), 1u);
    ASSERT_EQ(optimized.size(), 1u);
    EXPECT_EQ(folded, 1) << "the depthwise conv reads its input on the uint8 grid";
    ASSERT_EQ(plain[0].shape(), optimized[0].shape());
    double scale = 0;
    const double diff = max_abs_diff(plain[0], optimized[0], &scale);
    EXPECT_LE(diff, 1e-5 * scale) << "stride " << stride << ": the Q/DQ ops and the float conv against the folded conv";
  }
}

// A depthwise conv with x_scale and w_scales (as fold_qdq marks one with
// int8 weights) sums in integers where the CPU has the kernel, also after
// a BatchNorm folded into weights and scales; a model or artifact may carry
// w_scales its float weights do not sit on (a weight a quarter step off
// the grid, a NaN, a count that does not fit, a subnormal scale): the node
// then runs the float plane kernel on every CPU, the same bits as without
// w_scales, and no error.
TEST(QuantizedFusion, DepthwiseW_scalesOffTheWeightsGridFallBackToFloat) {
  const int64_t c = 6;
  const float step = 0.0123f;  // not a power of two: a folded factor rounds weights and scales apart
  std::vector<float> grid = uniform(size_t(c * 9), 31, -100.f, 100.f);
  for (float& v : grid) v = std::nearbyint(v) * step;  // on the int8 grid of that scale, as fold_qdq leaves weights
  auto run_with = [&](const std::vector<float>& w, const std::vector<float>* w_scales) {
    Msg g;
    g.m(5, pb::tensor_f32("w", {c, 1, 3, 3}, w));
    std::vector<Msg> attrs = {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1}), pb::attr_int("group", c),
                              pb::attr_float("x_scale", 0.05f), pb::attr_int("x_zero_point", 120)};
    if (w_scales) attrs.push_back(pb::attr_floats("w_scales", *w_scales));
    g.m(1, pb::node("Conv", {"x", "w"}, {"y"}, "dw", attrs));
    g.s(2, "dw_w_scales");
    g.m(11, pb::value_info("x", 1, {1, c, 9, 40}));
    g.m(12, pb::value_info("y", 1, {}));
    const std::string path = pareto::testing::scratch_dir() + "/dw_w_scales.onnx";
    std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
    return run_session(path, true, {{"x", Tensor::from_vector<float>(uniform(size_t(c * 9 * 40), 32, -6.f, 6.f), {1, c, 9, 40})}});
  };
  const std::vector<float> on_grid(size_t(c), step);
  // A BatchNorm folded in (fold_conv_affine): weights and scales times a
  // per-channel factor, each rounded, so w / scale lands a hair off the code.
  std::vector<float> folded = grid, folded_scales = on_grid;
  for (int64_t o = 0; o < c; ++o) {
    const float f = 0.7f + 0.113f * float(o);
    folded_scales[size_t(o)] = on_grid[size_t(o)] * f;
    for (int64_t t = 0; t < 9; ++t) folded[size_t(o * 9 + t)] = grid[size_t(o * 9 + t)] * f;
  }
  // The integer path runs where the CPU has it (its sums differ from the
  // float kernel's in the last bits somewhere: exact against rounded).
  const bool vnni = kernels::u8_depthwise_fast(pareto::testing::params_of({1, c, 9, 40, c, 3, 3, c, 1, 1, 1, 1, 1, 1, 1, 1}));
  struct Valid {
    const char* what;
    const std::vector<float>* w;
    const std::vector<float>* scales;
  };
  for (const Valid& v : {Valid{"on the grid", &grid, &on_grid}, Valid{"a folded BatchNorm", &folded, &folded_scales}}) {
    const std::vector<float>& w = *v.w;
    const std::vector<float>* scales = v.scales;
    const char* what = v.what;
    const std::vector<Tensor> plain = run_with(w, nullptr), integer = run_with(w, scales);
    ASSERT_EQ(plain.size(), 1u) << what;
    ASSERT_EQ(integer.size(), 1u) << what;
    double scale = 0;
    const double diff = max_abs_diff(plain[0], integer[0], &scale);  // first: it sets scale
    EXPECT_LE(diff, 1e-5 * scale) << what << ": integer sums against float sums of the same values";
    if (vnni) {
      EXPECT_GT(diff, 0.0) << what << ": the integer kernel should have run (its bits equal the float kernel's everywhere)";
    }
  }
  std::vector<float> off = grid;
  off[3] += step / 4;  // one weight between two codes
  std::vector<float> nan_scale = on_grid, subnormal = on_grid;
  nan_scale[2] = std::nanf("");
  subnormal[1] = 1e-40f;
  const std::vector<float> short_scales(size_t(c - 1), step);
  struct Case {
    const char* what;
    const std::vector<float>* w;
    const std::vector<float>* scales;
  };
  for (const Case& k : {Case{"a weight off the grid", &off, &on_grid}, Case{"a NaN scale", &grid, &nan_scale}, Case{"a subnormal scale", &grid, &subnormal},
                        Case{"one scale short", &grid, &short_scales}}) {
    const std::vector<Tensor> want = run_with(*k.w, nullptr), got = run_with(*k.w, k.scales);
    ASSERT_EQ(want.size(), 1u) << k.what;
    ASSERT_EQ(got.size(), 1u) << k.what;
    ASSERT_EQ(got[0].shape(), want[0].shape()) << k.what;
    EXPECT_EQ(std::memcmp(got[0].data<float>(), want[0].data<float>(), size_t(want[0].numel()) * sizeof(float)), 0) << k.what << ": the float kernel's bits";
  }
}

// x -> int8 3x3 conv a (16 -> 16 on 8x64: Winograd applies) -> int8 1x1
// conv b -> y. With fuse_quantize a writes uint8 for b; the outputs equal
// those with a writing floats that b rounds, bit for bit, on the shifted
// int8 kernel (VNNI) and on the float Winograd path (AMX tiles emulated).
TEST(QuantizedFusion, Int8ConvRoundsForItsReaderOnEveryPath) {
  Msg g;
  auto attrs = [](int64_t k, float xs, int64_t zp, int64_t cout) {
    return std::vector<Msg>{pb::attr_ints("kernel_shape", {k, k}), pb::attr_ints("pads", {k / 2, k / 2, k / 2, k / 2}), pb::attr_float("x_scale", xs),
                            pb::attr_int("x_zero_point", zp), pb::attr_floats("w_scales", std::vector<float>(size_t(cout), 1.f / 64))};
  };
  // Weights on the int8 grid of their scales (q / 64), as fold_qdq leaves them.
  auto grid = [](size_t n, uint32_t seed) {
    std::vector<float> v = uniform(n, seed, -100.f, 100.f);
    for (float& x : v) x = std::nearbyint(x) / 64;
    return v;
  };
  g.m(5, pb::tensor_f32("wa", {16, 16, 3, 3}, grid(16 * 16 * 9, 21)));
  g.m(5, pb::tensor_f32("ba", {16}, uniform(16, 22)));
  g.m(5, pb::tensor_f32("wb", {8, 16, 1, 1}, grid(8 * 16, 23)));
  g.m(1, pb::node("Conv", {"x", "wa", "ba"}, {"a"}, "conv_a", attrs(3, 0.05f, 128, 16)));
  g.m(1, pb::node("Conv", {"a", "wb"}, {"y"}, "conv_b", attrs(1, 0.5f, 120, 8)));
  g.s(2, "int8_chain");
  g.m(11, pb::value_info("x", 1, {1, 16, 8, 64}));
  g.m(12, pb::value_info("y", 1, {}));
  const std::string path = pareto::testing::scratch_dir() + "/int8_chain.onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  const std::map<std::string, Tensor> in = {{"x", Tensor::from_vector<float>(uniform(16 * 8 * 64, 24, -6.f, 6.f), {1, 16, 8, 64})}};
  const CpuFeatures& f = cpu_features();
  const bool can_emulate = f.avx512f && f.avx512bw && f.avx512vl;
  for (bool emulated_amx : {false, true}) {
#if defined(__x86_64__)
    if (emulated_amx && !can_emulate) continue;
    if (emulated_amx) kernels::set_int8_tile_gemm(&kernels::amx_emulated::int8_gemm_tiles);
#else
    if (emulated_amx) continue;
#endif
    std::vector<Tensor> outs[2];
    for (int fuse : {0, 1}) {
      if (!fuse) setenv("PARETO_FUSE_QUANTIZE", "0", 1);
      int rounded = 0;
      outs[fuse] = run_session(path, true, in, nullptr, &rounded);
      unsetenv("PARETO_FUSE_QUANTIZE");
      EXPECT_EQ(rounded, fuse) << "emulated AMX " << emulated_amx;
    }
    kernels::reset_int8_tile_gemm();
    ASSERT_EQ(outs[0].size(), 1u);
    ASSERT_EQ(outs[1].size(), 1u);
    EXPECT_EQ(std::memcmp(outs[0][0].data<float>(), outs[1][0].data<float>(), size_t(outs[0][0].numel()) * sizeof(float)), 0)
        << "emulated AMX " << emulated_amx;
  }
}

// Q -> DQ -> GlobalAveragePool -> Q (uint8, per tensor) runs as
// pareto::QGlobalAveragePool: each plane's bytes summed exactly, then
// round_half_even(float(sum - n zx) * (sx / (sy n))) + zy saturated, the
// arithmetic ONNX Runtime runs for these nodes (QLinearGlobalAveragePool),
// computed here from the bytes. The plain graph (float sum of the
// dequantized values) is within one step of it.
TEST(QuantizedFusion, QuantizedGlobalAveragePoolSumsTheBytes) {
  struct Case {
    float sx, sy;
    uint8_t zx, zy;
  };
  for (const Case& c : {Case{0.05f, 0.01f, 128, 3}, Case{0.031f, 0.0007f, 7, 250}, Case{0.2f, 0.2f, 0, 0}}) {
    Msg g;
    g.m(5, pb::tensor_f32("sx", {}, {c.sx}));
    g.m(5, u8_scalar("zx", c.zx));
    g.m(5, pb::tensor_f32("sy", {}, {c.sy}));
    g.m(5, u8_scalar("zy", c.zy));
    add_quantized_pool(g, "sx", "zx", "sy", "zy");
    g.s(2, "qgap");
    g.m(11, pb::value_info("x", 1, {2, 33, 7, 9}));
    g.m(12, pb::value_info("y", 2, {}));
    const std::string path = pareto::testing::scratch_dir() + "/qgap.onnx";
    std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
    const std::vector<float> xv = uniform(2 * 33 * 63, 31, -4.f, 4.f);
    const std::map<std::string, Tensor> in = {{"x", Tensor::from_vector<float>(xv, {2, 33, 7, 9})}};
    SessionOptions o;
    o.optimize = true;
    auto s = Session::open(path, o);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_EQ(rewrites(*s.value(), "integer QGlobalAveragePool"), 1);
    auto y = s.value()->run(in);
    ASSERT_TRUE(y.ok()) << y.status().to_string();
    const std::vector<Tensor> plain = run_session(path, false, in);
    ASSERT_EQ(plain.size(), 1u);
    const Tensor& yo = y.value()[0];
    ASSERT_EQ(yo.dtype(), DType::u8);
    ASSERT_EQ(yo.shape(), Shape({2, 33, 1, 1}));
    const float scale = c.sx / (c.sy * 63.f);
    int off_by_one = 0;
    for (int64_t p = 0; p < 66; ++p) {
      int64_t sum = 0;
      for (int64_t i = 0; i < 63; ++i)
        sum += int64_t(std::clamp(std::nearbyint(xv[size_t(p * 63 + i)] / c.sx) + float(c.zx), 0.f, 255.f));
      const float want = std::clamp(std::nearbyint(float(sum - 63 * int64_t(c.zx)) * scale) + float(c.zy), 0.f, 255.f);
      EXPECT_EQ(yo.data<uint8_t>()[p], uint8_t(want)) << "plane " << p << " sx " << c.sx;
      const int d = std::abs(int(plain[0].data<uint8_t>()[p]) - int(want));
      EXPECT_LE(d, 1) << "plane " << p;
      off_by_one += d;
    }
    RecordProperty("plain_graph_off_by_one_" + std::to_string(c.sy), off_by_one);
  }
}

// Not folded where the float pool is read elsewhere too (here a graph
// output), and a hostile QGlobalAveragePool whose scales make an infinite
// multiplier is refused by name, not run into a NaN.
TEST(QuantizedFusion, QuantizedGlobalAveragePoolOnlyWhereTheGraphAllowsIt) {
  {
    Msg g;
    g.m(5, pb::tensor_f32("s", {}, {0.05f}));
    g.m(5, u8_scalar("z", 128));
    add_quantized_pool(g, "s", "z", "s", "z");
    g.s(2, "qgap_shared");
    g.m(11, pb::value_info("x", 1, {1, 4, 3, 3}));
    g.m(12, pb::value_info("y", 2, {}));
    g.m(12, pb::value_info("p", 1, {}));
    const std::string path = pareto::testing::scratch_dir() + "/qgap_shared.onnx";
    std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
    SessionOptions o;
    o.optimize = true;
    auto s = Session::open(path, o);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    EXPECT_EQ(rewrites(*s.value(), "integer QGlobalAveragePool"), 0);
  }
  Msg g;
  g.m(5, pb::tensor_f32("sx", {}, {1e30f}));
  g.m(5, pb::tensor_f32("sy", {}, {1e-30f}));
  g.m(5, u8_scalar("z", 0));
  g.m(1, pb::node("QGlobalAveragePool", {"x", "sx", "z", "sy", "z"}, {"y"}, "hostile"));
  g.s(2, "qgap_hostile");
  g.m(11, pb::value_info("x", 2, {1, 2, 3, 3}));
  g.m(12, pb::value_info("y", 2, {}));
  const std::string path = pareto::testing::scratch_dir() + "/qgap_hostile.onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  auto s = Session::open(path, SessionOptions{});
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  std::vector<uint8_t> zeros(18, 0);
  Tensor x = Tensor::empty(DType::u8, {1, 2, 3, 3});
  std::memcpy(x.data<uint8_t>(), zeros.data(), zeros.size());
  auto y = s.value()->run({{"x", x}});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().to_string().find("out of range"), std::string::npos) << y.status().to_string();
}
