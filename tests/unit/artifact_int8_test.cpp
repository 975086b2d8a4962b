// Compiled artifacts of int8 models store each int8 conv's weights as their
// int8 codes (a quarter of the float bytes): a conv with a BatchNorm folded
// in keeps its weights exactly on the grid (fold_conv_affine), so it is
// stored so too; the int8 GEMM reads the codes, the paths that compute in
// float (depthwise planes, single-pixel convs) the floats they stand for;
// the outputs equal the optimized session's bit for bit.
#include <gtest/gtest.h>

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

// x[1,8,12,48] -> Conv 3x3 (16) -> BatchNorm -> Relu -> depthwise 3x3 -> Relu
// -> Conv 3x3 (16 -> 16) -> BatchNorm -> Conv 1x1 (16) -> y; and
// GlobalAveragePool of the first Relu -> Conv 1x1 (16 -> 16) on one pixel
// -> y2. The second 3x3 has Winograd's shape (16 -> 16, 48 wide): the
// shifted int8 kernel takes it where the CPU has VNNI without AMX, the
// Winograd float path on the decoded weights elsewhere.
ir::Model float_model() {
  pb::Msg g;
  g.m(5, pb::tensor_f32("w0", {16, 8, 3, 3}, random_floats(16 * 8 * 9, 1, -0.3f, 0.3f)));
  for (const char* bn : {"bn0", "bn1"}) {
    const uint32_t seed = bn[2] == '0' ? 20 : 30;
    g.m(5, pb::tensor_f32(std::string(bn) + "_gamma", {16}, random_floats(16, seed, 0.5f, 1.5f)));
    g.m(5, pb::tensor_f32(std::string(bn) + "_beta", {16}, random_floats(16, seed + 1, -0.2f, 0.2f)));
    g.m(5, pb::tensor_f32(std::string(bn) + "_mean", {16}, random_floats(16, seed + 2, -0.1f, 0.1f)));
    g.m(5, pb::tensor_f32(std::string(bn) + "_var", {16}, random_floats(16, seed + 3, 0.5f, 1.5f)));
  }
  g.m(5, pb::tensor_f32("wd", {16, 1, 3, 3}, random_floats(16 * 9, 6, -0.5f, 0.5f)));
  g.m(5, pb::tensor_f32("w3", {16, 16, 3, 3}, random_floats(16 * 16 * 9, 10, -0.2f, 0.2f)));
  g.m(5, pb::tensor_f32("w1", {16, 16, 1, 1}, random_floats(16 * 16, 7, -0.3f, 0.3f)));
  g.m(5, pb::tensor_f32("w2", {16, 16, 1, 1}, random_floats(16 * 16, 8, -0.3f, 0.3f)));
  g.m(5, pb::tensor_f32("b2", {16}, random_floats(16, 9, -0.1f, 0.1f)));
  const auto pads = pb::attr_ints("pads", {1, 1, 1, 1});
  const auto k3 = pb::attr_ints("kernel_shape", {3, 3});
  auto bn = [&](const std::string& name, const std::string& x, const std::string& y) {
    g.m(1, pb::node("BatchNormalization", {x, name + "_gamma", name + "_beta", name + "_mean", name + "_var"}, {y}, name));
  };
  g.m(1, pb::node("Conv", {"x", "w0"}, {"a"}, "conv0", {k3, pads}));
  bn("bn0", "a", "b");
  g.m(1, pb::node("Relu", {"b"}, {"r"}, "relu0"));
  g.m(1, pb::node("Conv", {"r", "wd"}, {"d"}, "depthwise", {k3, pads, pb::attr_int("group", 16)}));
  g.m(1, pb::node("Relu", {"d"}, {"dr"}, "relu1"));
  g.m(1, pb::node("Conv", {"dr", "w3"}, {"c3"}, "conv3", {k3, pads}));
  bn("bn1", "c3", "e");
  g.m(1, pb::node("Conv", {"e", "w1"}, {"y"}, "conv1", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.m(1, pb::node("GlobalAveragePool", {"r"}, {"p"}, "pool"));
  g.m(1, pb::node("Conv", {"p", "w2", "b2"}, {"y2"}, "conv2", {pb::attr_ints("kernel_shape", {1, 1})}));
  g.s(2, "int8_convs");
  g.m(11, pb::value_info("x", 1, {1, 8, 12, 48}));
  g.m(12, pb::value_info("y", 1, {1, 16, 12, 48}));
  g.m(12, pb::value_info("y2", 1, {1, 16, 1, 1}));
  const std::string bytes = pb::model(g, 13).bytes;
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "int8_convs.onnx", "");
}

Tensor input(uint32_t seed) { return Tensor::from_vector<float>(random_floats(8 * 12 * 48, seed, -2.f, 2.f), {1, 8, 12, 48}); }

// The int8 model compiled (optimized session) and saved as an artifact at path.
std::unique_ptr<Session> compile_int8(const std::string& path) {
  quant::OnnxQuantOptions q;
  q.keep_first_last = false;
  q.quantize_depthwise = true;
  const ir::Model int8 = quant::quantize_onnx(float_model(), {{input(0)}, {input(1)}}, q, nullptr);
  const std::string onnx_path = path + ".onnx";
  onnx::save_model(int8, onnx_path);
  SessionOptions o;
  o.optimize = true;
  auto s = Session::open(onnx_path, o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  if (!s.ok()) return nullptr;
  EXPECT_TRUE(s.value()->save(path).ok());
  return std::move(s.value());
}

}  // namespace

TEST(ArtifactInt8, WeightsStoredAsCodesComputeTheSameBits) {
  const std::string path = ::testing::TempDir() + "/artifact_int8.pareto";
  const std::unique_ptr<Session> compiled = compile_int8(path);
  ASSERT_TRUE(compiled);

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
  EXPECT_EQ(int8_convs, 5);
  EXPECT_EQ(coded, int8_convs) << "an int8 conv's weights were stored as floats";

  auto loaded = Session::open(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  for (uint32_t seed : {5u, 6u}) {
    const Tensor x = input(seed);
    auto a = compiled->run({{"x", x}});
    auto b = loaded.value()->run({{"x", x}});
    ASSERT_TRUE(a.ok() && b.ok()) << b.status().to_string();
    ASSERT_EQ(a.value().size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      ASSERT_EQ(a.value()[i].nbytes(), b.value()[i].nbytes());
      EXPECT_EQ(std::memcmp(a.value()[i].raw(), b.value()[i].raw(), a.value()[i].nbytes()), 0) << "output " << i << ", input " << seed;
    }
  }
}

// Damaged int8 weight records (the tag, rank, dims, offset and size after
// it): the reader refuses them naming the file, or the file loads and the
// run either works or refuses; never a crash.
TEST(ArtifactInt8, DamagedWeightRecordsNeverCrash) {
  const std::string path = ::testing::TempDir() + "/artifact_int8_damaged.pareto";
  ASSERT_TRUE(compile_int8(path));
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<size_t> records;  // where each int8 weight tag is
  const int32_t tag = artifact::kInt8RowsTag;
  for (size_t at = 64; at + 4 <= bytes.size(); ++at)
    if (std::memcmp(bytes.data() + at, &tag, 4) == 0) records.push_back(at);
  ASSERT_GE(records.size(), 5u);
  std::mt19937 rng(77);
  int refused = 0, ran = 0;
  const Tensor x = input(3);
  for (int trial = 0; trial < 600; ++trial) {
    std::string m = bytes;
    const size_t at = records[rng() % records.size()] + 4 + rng() % 40;  // rank, dims, offset, size
    m[at] = char(rng() % 4 == 0 ? 0xFF : rng());
    const uint64_t h = artifact::checksum(reinterpret_cast<const uint8_t*>(m.data()) + 64, m.size() - 64);
    std::memcpy(m.data() + 24, &h, 8);  // past the checksum: the parser meets the damage
    const std::string bad = ::testing::TempDir() + "/artifact_int8_mutant.pareto";
    std::ofstream(bad, std::ios::binary) << m;
    auto s = Session::open(bad);
    if (!s.ok()) {
      ++refused;
      EXPECT_NE(s.status().message.find("mutant"), std::string::npos) << s.status().message;
      continue;
    }
    ++ran;
    (void)s.value()->run({{"x", x}});  // may refuse (shapes that no longer fit); must not crash
  }
  EXPECT_GT(refused, 0);
  std::printf("[artifact int8] 600 damaged weight records: %d refused at load, %d loaded and ran or refused at run\n", refused, ran);
}
