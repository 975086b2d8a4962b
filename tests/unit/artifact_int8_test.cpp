// Compiled artifacts of int8 models store each int8 conv's weights as their
// int8 codes (a quarter of the float bytes): a conv with a BatchNorm folded
// in keeps its weights exactly on the grid (fold_conv_affine), so it is
// stored so too; the int8 GEMM reads the codes, the paths that compute in
// float (depthwise planes, single-pixel convs) the floats they stand for;
// the outputs equal the optimized session's bit for bit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "frontend/artifact/artifact.h"
#include "frontend/onnx/onnx_loader.h"
#include "frontend/onnx/onnx_writer.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"
#include "quant/onnx_qdq.h"

using namespace pareto;
namespace pb = pareto::test;

namespace {

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// x[1,8,12,12] -> Conv 3x3 (16) -> BatchNorm -> Relu -> depthwise 3x3 -> Relu
// -> Conv 1x1 (16) -> y; and GlobalAveragePool of the BatchNorm's Relu ->
// Conv 1x1 (16 -> 16) on one pixel -> y2.
ir::Model float_model() {
  pb::Msg g;
  g.m(5, pb::tensor_f32("w0", {16, 8, 3, 3}, random_floats(16 * 8 * 9, 1, -0.3f, 0.3f)));
  g.m(5, pb::tensor_f32("gamma", {16}, random_floats(16, 2, 0.5f, 1.5f)));
  g.m(5, pb::tensor_f32("beta", {16}, random_floats(16, 3, -0.2f, 0.2f)));
  g.m(5, pb::tensor_f32("mean", {16}, random_floats(16, 4, -0.1f, 0.1f)));
  g.m(5, pb::tensor_f32("var", {16}, random_floats(16, 5, 0.5f, 1.5f)));
  g.m(5, pb::tensor_f32("wd", {16, 1, 3, 3}, random_floats(16 * 9, 6, -0.5f, 0.5f)));
  g.m(5, pb::tensor_f32("w1", {16, 16, 1, 1}, random_floats(16 * 16, 7, -0.3f, 0.3f)));
  g.m(5, pb::tensor_f32("w2", {16, 16, 1, 1}, random_floats(16 * 16, 8, -0.3f, 0.3f)));
  g.m(5, pb::tensor_f32("b2", {16}, random_floats(16, 9, -0.1f, 0.1f)));
  const auto pads = pb::attr_ints("pads", {1, 1, 1, 1});
  g.m(1, pb::node("Conv", {"x", "w0"}, {"a"}, "conv0", {pb::attr_ints("kernel_shape", {3, 3}), pads}));
  g.m(1, pb::node("BatchNormalization", {"a", "gamma", "beta", "mean", "var"}, {"bn"}, "bn"));
  g.m(1, pb::node("Relu", {"bn"}, {"r"}, "relu0"));
  g.m(1, pb::node("Conv", {"r", "wd"}, {"d"}, "depthwise", {pb::attr_ints("kernel_shape", {3, 3}), pads, pb::attr_int("group", 16)}));
  g.m(1, pb::node("Relu", {"d"}, {"dr"}, "relu1"));
  g.m(1, pb::node("Conv", {"dr", "w1"}, {"y"}, "conv1", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.m(1, pb::node("GlobalAveragePool", {"r"}, {"p"}, "pool"));
  g.m(1, pb::node("Conv", {"p", "w2", "b2"}, {"y2"}, "conv2", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.s(2, "int8_convs");
  g.m(11, pb::value_info("x", 1, {1, 8, 12, 12}));
  g.m(12, pb::value_info("y", 1, {1, 16, 12, 12}));
  g.m(12, pb::value_info("y2", 1, {1, 16, 1, 1}));
  const std::string bytes = pb::model(g, 13).bytes;
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "int8_convs.onnx", "");
}

Tensor input(uint32_t seed) { return Tensor::from_vector<float>(random_floats(8 * 144, seed, -2.f, 2.f), {1, 8, 12, 12}); }

}  // namespace

TEST(ArtifactInt8, WeightsStoredAsCodesComputeTheSameBits) {
  quant::OnnxQuantOptions q;
  q.keep_first_last = false;
  q.quantize_depthwise = true;
  const ir::Model int8 = quant::quantize_onnx(float_model(), {{input(0)}, {input(1)}}, q, nullptr);
  const std::string onnx_path = ::testing::TempDir() + "/artifact_int8.onnx", path = ::testing::TempDir() + "/artifact_int8.pareto";
  onnx::save_model(int8, onnx_path);
  SessionOptions o;
  o.optimize = true;
  auto compiled = Session::open(onnx_path, o);
  ASSERT_TRUE(compiled.ok()) << compiled.status().to_string();
  ASSERT_TRUE(compiled.value()->save(path).ok());

  // Every conv with w_scales reads int8 codes from the file: the 3x3 with
  // the BatchNorm folded in included.
  const artifact::Compiled stored = artifact::load(path);
  const ir::Graph& g = *stored.model.graph;
  int int8_convs = 0, coded = 0;
  for (const ir::Node& n : g.nodes) {
    if (!n.has_attr("w_scales")) continue;
    ++int8_convs;
    coded += g.values[size_t(n.inputs[1])].constant.dtype() == DType::i8;
  }
  EXPECT_EQ(int8_convs, 4);
  EXPECT_EQ(coded, int8_convs) << "an int8 conv's weights were stored as floats";

  auto loaded = Session::open(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  for (uint32_t seed : {5u, 6u}) {
    const Tensor x = input(seed);
    auto a = compiled.value()->run({{"x", x}});
    auto b = loaded.value()->run({{"x", x}});
    ASSERT_TRUE(a.ok() && b.ok()) << b.status().to_string();
    ASSERT_EQ(a.value().size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      ASSERT_EQ(a.value()[i].nbytes(), b.value()[i].nbytes());
      EXPECT_EQ(std::memcmp(a.value()[i].raw(), b.value()[i].raw(), a.value()[i].nbytes()), 0) << "output " << i << ", input " << seed;
    }
  }
}

// The reader meets damaged int8 weight records (tag, rank, dims, offset,
// size) with an error naming the file, never a crash.
TEST(ArtifactInt8, DamagedFilesNeverCrashTheReader) {
  quant::OnnxQuantOptions q;
  q.keep_first_last = false;
  q.quantize_depthwise = true;
  const ir::Model int8 = quant::quantize_onnx(float_model(), {{input(0)}}, q, nullptr);
  const std::string onnx_path = ::testing::TempDir() + "/artifact_int8_damaged.onnx", path = ::testing::TempDir() + "/artifact_int8_damaged.pareto";
  onnx::save_model(int8, onnx_path);
  SessionOptions o;
  o.optimize = true;
  auto s = Session::open(onnx_path, o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE(s.value()->save(path).ok());
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::mt19937 rng(77);
  int refused = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string m = bytes;
    for (int f = 0; f < 1 + int(rng() % 3); ++f) m[64 + rng() % (m.size() - 64)] = char(rng());
    const uint64_t h = artifact::checksum(reinterpret_cast<const uint8_t*>(m.data()) + 64, m.size() - 64);
    std::memcpy(m.data() + 24, &h, 8);  // past the checksum: the parser meets the damage
    std::shared_ptr<uint8_t> buf(static_cast<uint8_t*>(std::aligned_alloc(64, (m.size() + 63) / 64 * 64)), std::free);
    std::memcpy(buf.get(), m.data(), m.size());
    try {
      artifact::load_from_memory(buf.get(), m.size(), "mutant", buf);
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("mutant"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(refused, 0);
}
