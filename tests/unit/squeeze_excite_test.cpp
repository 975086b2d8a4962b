// passes/fuse_squeeze_excite: GlobalAveragePool + two one-pixel convs + Mul
// become one FusedSqueezeExcite whose output is the unfused graph's bit for
// bit (the same session with PARETO_FUSE_SE=0), on float blocks and on the
// int8 form of pareto's quantized models (the convs round their input to
// the uint8 grid, and the product is rounded to uint8 for the int8 conv
// reading it); blocks that are not that shape stay as they are.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "../apps/scratch_dir.h"
#include "kernel_test_util.h"
#include "kernels/conv.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;
namespace pb = pareto::test;
using pb::Msg;
using pareto::testing::uniform;

namespace {

struct Block {
  int64_t c = 24, r = 6;
  bool int8 = false;           // the convs carry fold_qdq's int8 attributes
  bool gate_first = false;     // Mul(gate, x) rather than Mul(x, gate)
  bool plain_squeeze = false;  // the squeeze conv without bias and activation
  bool gate_read_twice = false, pool_read_twice = false;
  bool grouped_squeeze = false;  // the squeeze conv in two groups
  bool pool_of_other = false;    // the pool reads another tensor than the Mul's
  bool project = false;          // an int8 1x1 conv reads the product
};

std::vector<Msg> int8_attrs(const Block& b, int64_t cout, float x_scale, int64_t zero) {
  if (!b.int8) return {};
  return {pb::attr_float("x_scale", x_scale), pb::attr_int("x_zero_point", zero),
          pb::attr_floats("w_scales", std::vector<float>(size_t(cout), 1.f / 64))};
}

// Weights on the int8 grid of their scales (q / 64), as fold_qdq leaves them.
std::vector<float> grid(size_t n, uint32_t seed) {
  std::vector<float> v = uniform(n, seed, -60.f, 60.f);
  for (float& x : v) x = std::nearbyint(x) / 64;
  return v;
}

// x [N, C, H, W] -> 3x3 conv a -> a * HardSigmoid(conv(Relu(conv(GAP(a))))) [-> int8 1x1 conv] -> y
std::string write_block(const Block& b, const std::string& name) {
  Msg g;
  const int64_t c = b.c, r = b.r;
  g.m(5, pb::tensor_f32("wa", {c, c, 3, 3}, uniform(size_t(c * c * 9), 31, -0.2f, 0.2f)));
  const int64_t groups = b.grouped_squeeze ? 2 : 1;
  g.m(5, pb::tensor_f32("w1", {r, c / groups, 1, 1}, grid(size_t(r * c / groups), 32)));
  g.m(5, pb::tensor_f32("b1", {r}, uniform(size_t(r), 33)));
  g.m(5, pb::tensor_f32("w2", {c, r, 1, 1}, grid(size_t(c * r), 34)));
  g.m(5, pb::tensor_f32("b2", {c}, uniform(size_t(c), 35)));
  g.m(1, pb::node("Conv", {"x", "wa"}, {"a"}, "conv_a", {pb::attr_ints("kernel_shape", {3, 3}), pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, pb::node("Relu", {"x"}, {"other"}, "other"));
  g.m(1, pb::node("GlobalAveragePool", {b.pool_of_other ? "other" : "a"}, {"p"}, "gap"));
  std::vector<Msg> squeeze_attrs = int8_attrs(b, r, 0.02f, 128);
  if (groups > 1) squeeze_attrs.push_back(pb::attr_int("group", groups));
  if (b.plain_squeeze) {
    g.m(1, pb::node("Conv", {"p", "w1"}, {"sr"}, "squeeze", squeeze_attrs));
  } else {
    g.m(1, pb::node("Conv", {"p", "w1", "b1"}, {"s"}, "squeeze", squeeze_attrs));
    g.m(1, pb::node("Relu", {"s"}, {"sr"}, "squeeze_relu"));
  }
  g.m(1, pb::node("Conv", {"sr", "w2", "b2"}, {"e"}, "excite", int8_attrs(b, c, 0.05f, 0)));
  g.m(1, pb::node("HardSigmoid", {"e"}, {"gate"}, "excite_hs", {pb::attr_float("alpha", 0.2f), pb::attr_float("beta", 0.5f)}));
  g.m(1, pb::node("Mul", {b.gate_first ? "gate" : "a", b.gate_first ? "a" : "gate"}, {"m"}, "scale"));
  std::string y = "m";
  if (b.gate_read_twice || b.pool_read_twice) {  // [N, C, 1, 1] added to the product: broadcast
    g.m(1, pb::node("Add", {"m", b.gate_read_twice ? "gate" : "p"}, {"m2"}, "also_reads"));
    y = "m2";
  }
  if (b.project) {
    g.m(5, pb::tensor_f32("wp", {8, c, 1, 1}, grid(size_t(8 * c), 36)));
    Block q = b;
    q.int8 = true;
    g.m(1, pb::node("Conv", {y, "wp"}, {"proj"}, "project", int8_attrs(q, 8, 0.03f, 120)));
    y = "proj";
  }
  g.s(2, name);
  g.m(11, pb::value_info("x", 1, {}));
  g.m(12, pb::value_info(y, 1, {}));
  const std::string path = pareto::testing::scratch_dir() + "/" + name + ".onnx";
  std::ofstream(path, std::ios::binary) << pb::model(g, 13).bytes;
  return path;
}

struct SeRun {
  std::vector<Tensor> outputs;
  std::map<std::string, int> ops;
  int rounded = 0;  // FusedSqueezeExcite nodes fuse_quantize had round their output
};

SeRun run(const std::string& path, bool fuse, const Tensor& x, int threads) {
  if (!fuse) setenv("PARETO_FUSE_SE", "0", 1);
  SessionOptions o;
  o.optimize = true;
  o.threads = threads;
  o.shapes["x"] = x.shape();
  auto s = Session::open(path, o);
  unsetenv("PARETO_FUSE_SE");
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  SeRun r;
  if (!s.ok()) return r;
  r.ops = s.value()->summary().op_histogram;
  for (const PassSummary& p : s.value()->passes())
    for (const auto& [what, n] : p.rewrites)
      if (what == "FusedSqueezeExcite -> uint8 for quantized convs") r.rounded += n;
  for (int rep = 0; rep < 2; ++rep) {  // twice: the arena and per-thread buffers are reused
    auto y = s.value()->run({{"x", x}});
    EXPECT_TRUE(y.ok()) << y.status().to_string();
    if (y.ok()) r.outputs = y.value();
  }
  return r;
}

int count(const std::map<std::string, int>& h, const std::string& op) {
  auto it = h.find(op);
  return it == h.end() ? 0 : it->second;
}

// Fused and unfused sessions of one model agree bit for bit; returns the fused run.
SeRun fused_equals_unfused(const Block& b, const std::string& name, const Shape& shape, int threads) {
  const std::string path = write_block(b, name);
  const Tensor x = Tensor::from_vector<float>(uniform(size_t(shape_numel(shape)), 37, -3.f, 3.f), shape);
  const SeRun plain = run(path, false, x, threads), fused = run(path, true, x, threads);
  EXPECT_EQ(count(plain.ops, "FusedSqueezeExcite"), 0);
  EXPECT_EQ(plain.outputs.size(), 1u);
  EXPECT_EQ(fused.outputs.size(), 1u);
  if (plain.outputs.size() == 1 && fused.outputs.size() == 1) {
    const Tensor &p = plain.outputs[0], &f = fused.outputs[0];
    EXPECT_EQ(p.shape(), f.shape());
    if (p.shape() == f.shape()) {
      EXPECT_EQ(std::memcmp(p.data<float>(), f.data<float>(), size_t(p.numel()) * sizeof(float)), 0) << name << " at " << threads << " threads";
    }
  }
  return fused;
}

}  // namespace

// Odd maps, two images (one gate each), the gate on either side of the Mul,
// 1 and 2 threads; small maps go a group of planes at a time, large ones
// (41x40: over 2^15 values) in bands of rows per thread; a squeeze conv
// without bias or activation.
TEST(SqueezeExcite, FloatBlockFusesAndMatchesTheUnfusedGraphBitForBit) {
  for (const Shape& shape : {Shape{2, 24, 7, 9}, Shape{1, 24, 41, 40}})
    for (bool gate_first : {false, true})
      for (int threads : {1, 2}) {
        Block b;
        b.gate_first = gate_first;
        b.plain_squeeze = gate_first;
        const SeRun f = fused_equals_unfused(b, "se_float", shape, threads);
        EXPECT_EQ(count(f.ops, "FusedSqueezeExcite"), 1);
        EXPECT_EQ(count(f.ops, "GlobalAveragePool") + count(f.ops, "Mul"), 0);
        EXPECT_EQ(count(f.ops, "FusedConv") + count(f.ops, "Conv"), 1);  // conv_a only
      }
}

// Convs too large for the one-pixel dot product (600 x 600 products) run
// on the GEMM with packed weights, in the fused op as in the unfused graph.
TEST(SqueezeExcite, LargeBlockTakesTheConvsGemmPathBitForBit) {
  Block b;
  b.c = 600;
  b.r = 600;
  for (int threads : {1, 2}) EXPECT_EQ(count(fused_equals_unfused(b, "se_large", {1, 600, 3, 4}, threads).ops, "FusedSqueezeExcite"), 1);
}

// pareto's int8 models: both one-pixel convs int8 (their input rounded to
// the uint8 grid), the product read by an int8 conv, so the fused op
// rounds it to uint8 for that conv (fuse_quantize); bit for bit.
// Where the one-pixel float path does not run (no AVX-512: the int8
// kernel runs those convs), the block stays unfused, still bit for bit.
TEST(SqueezeExcite, Int8BlockRoundsItsOutputForTheInt8ConvReadingIt) {
  kernels::ConvParams squeeze;
  squeeze.c_in = 24;
  squeeze.c_out = 6;
  squeeze.h = squeeze.w = squeeze.out_h = squeeze.out_w = 1;
  const bool one_pixel = kernels::f32_conv_is_single_pixel(squeeze);
  for (const Shape& shape : {Shape{2, 24, 6, 40}, Shape{1, 24, 41, 40}})
    for (int threads : {1, 2}) {
      Block b;
      b.int8 = true;
      b.project = true;
      b.gate_first = threads == 2;
      const SeRun f = fused_equals_unfused(b, "se_int8", shape, threads);
      EXPECT_EQ(count(f.ops, "FusedSqueezeExcite"), one_pixel ? 1 : 0);
      EXPECT_EQ(f.rounded, one_pixel ? 1 : 0);
    }
  if (!one_pixel) GTEST_SKIP() << "no one-pixel dot-product conv on this CPU (AVX-512): int8 squeeze-excite blocks are left unfused here";
}

// The gate or the pool read elsewhere too, a grouped squeeze conv, or a
// pool of another tensor than the one the gate scales: no fusion, the
// outputs unchanged.
TEST(SqueezeExcite, BlocksOfAnotherShapeStay) {
  for (int which = 0; which < 4; ++which) {
    Block b;
    b.gate_read_twice = which == 0;
    b.pool_read_twice = which == 1;
    b.grouped_squeeze = which == 2;
    b.pool_of_other = which == 3;  // the gate from Relu(x) scales conv_a(x)
    EXPECT_EQ(count(fused_equals_unfused(b, "se_other_" + std::to_string(which), {1, 24, 5, 5}, 1).ops, "FusedSqueezeExcite"), 0) << which;
  }
}
