// Compiled artifacts (.pareto): round trip on the real models (outputs equal
// to the optimized session's), and a reader that refuses truncated,
// corrupted, wrong-version and hostile files with clear errors, never a
// crash (random mutations with the checksum fixed up so the parser itself is
// exercised; run under ASan in the asan preset).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>

#include "frontend/artifact/artifact.h"
#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;
namespace pb = pareto::test;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}
void write_all(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

void fix_checksum(std::string& s) {
  if (s.size() < 64) return;
  const uint64_t h = artifact::checksum(reinterpret_cast<const uint8_t*>(s.data()) + 64, s.size() - 64);
  std::memcpy(s.data() + 24, &h, 8);
}

// A small model with a fusable Conv -> BatchNorm -> Relu (then an Add), compiled and saved.
std::string small_artifact() {
  pb::Msg g;
  std::vector<float> w(8 * 3 * 3 * 3), c(8);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.1f;
  for (size_t i = 0; i < c.size(); ++i) c[i] = 0.5f + 0.1f * float(i);
  g.m(5, pb::tensor_f32("w", {8, 3, 3, 3}, w));
  for (const char* n : {"gamma", "beta", "mean", "var"}) g.m(5, pb::tensor_f32(n, {8}, c));
  g.m(1, pb::node("Conv", {"x", "w"}, {"c"}, "conv", {pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.m(1, pb::node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, {"b"}, "bn"));
  g.m(1, pb::node("Relu", {"b"}, {"r"}, "relu"));
  g.m(1, pb::node("Add", {"r", "r"}, {"y"}, "double"));  // the fused conv's output is an arena buffer
  g.s(2, "small");
  g.m(11, pb::value_info("x", 1, {1, 3, 6, 6}));
  g.m(12, pb::value_info("y", 1, {1, 8, 6, 6}));
  const std::string onnx = ::testing::TempDir() + "/artifact_small.onnx", out = ::testing::TempDir() + "/artifact_small.pareto";
  write_all(onnx, pb::model(g).bytes);
  SessionOptions o;
  o.optimize = true;
  auto s = Session::open(onnx, o);
  EXPECT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_TRUE(s.value()->save(out).ok());
  return out;
}

}  // namespace

TEST(Artifact, SmallModelRoundTrips) {
  const std::string path = small_artifact();
  auto s = Session::open(path);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ(s.value()->summary().op_histogram.at("FusedConv"), 1);
  // The stored memory plan comes back with the model: a real arena, no larger than unshared buffers.
  const MemorySummary mem = s.value()->memory();
  EXPECT_GT(mem.buffers, 0u);
  EXPECT_GT(mem.arena_bytes, 0u);
  EXPECT_LE(mem.arena_bytes, mem.naive_bytes);
  Tensor x = Tensor::zeros(DType::f32, {1, 3, 6, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 11) * 0.1f;
  auto y = s.value()->run({{"x", x}});
  ASSERT_TRUE(y.ok()) << y.status().to_string();
  EXPECT_EQ(y.value()[0].shape(), (Shape{1, 8, 6, 6}));
}

TEST(Artifact, RealModelsMatchTheOptimizedSession) {
  const std::string dir = std::string(PARETO_SOURCE_DIR) + "/models/ocr/";
  if (!std::ifstream(dir + "ch_ppocr_mobile_v2.0_cls_infer.onnx")) GTEST_SKIP() << "models/ocr not fetched (scripts/fetch-models.sh)";
  struct Case {
    std::string file;
    Shape shape;
  };
  for (const Case& m : {Case{"ch_ppocr_mobile_v2.0_cls_infer.onnx", {1, 3, 48, 192}}, Case{"ch_PP-OCRv4_rec_infer.onnx", {1, 3, 48, 320}},
                        Case{"ch_PP-OCRv4_det_infer.onnx", {1, 3, 256, 320}}}) {
    SessionOptions o;
    o.optimize = true;
    o.shapes["x"] = m.shape;
    auto a = Session::open(dir + m.file, o);
    ASSERT_TRUE(a.ok()) << a.status().to_string();
    const std::string out = ::testing::TempDir() + "/" + m.file + ".pareto";
    ASSERT_TRUE(a.value()->save(out).ok());
    auto b = Session::open(out);
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    EXPECT_EQ(b.value()->memory().arena_bytes, a.value()->memory().arena_bytes);
    Tensor x = Tensor::empty(DType::f32, m.shape);
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> d(-1, 1);
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = d(rng);
    auto ya = a.value()->run({{"x", x}});
    auto yb = b.value()->run({{"x", x}});
    ASSERT_TRUE(ya.ok() && yb.ok());
    const Tensor &p = ya.value()[0], &q = yb.value()[0];
    ASSERT_EQ(p.nbytes(), q.nbytes());
    EXPECT_EQ(std::memcmp(p.raw(), q.raw(), p.nbytes()), 0) << m.file << ": the artifact computes exactly what the optimized session did";
    // Compiled with the weights packed into the file (pareto compile's
    // default): the same bits, without packing at the first run.
    o.prepack_weights = true;
    auto c = Session::open(dir + m.file, o);
    ASSERT_TRUE(c.ok()) << c.status().to_string();
    int prepacked = 0;
    for (const PassSummary& ps : c.value()->passes())
      if (ps.pass == "prepack_weights")
        for (const auto& [what, count] : ps.rewrites) prepacked += count;
    EXPECT_GT(prepacked, 0) << m.file;
    const std::string packed_out = out + ".prepacked";
    ASSERT_TRUE(c.value()->save(packed_out).ok());
    auto e = Session::open(packed_out);
    ASSERT_TRUE(e.ok()) << e.status().to_string();
    auto yd = e.value()->run({{"x", x}});
    ASSERT_TRUE(yd.ok()) << yd.status().to_string();
    ASSERT_EQ(yd.value()[0].nbytes(), p.nbytes());
    EXPECT_EQ(std::memcmp(p.raw(), yd.value()[0].raw(), p.nbytes()), 0) << m.file << ": prepacked weights change nothing";
  }
}

// The packed weights in an artifact are untrusted and machine-specific: the
// runtime reads them (zeroing them changes the output), ignores them when
// packed for another kernel level (the plain weights are packed at run
// time: the output is right even with the stored ones zeroed), and refuses
// a packed tensor of the wrong size, naming the node. The conv has 144
// products per output and 8 output channels: the tiled GEMM, not the
// small-k kernel or Winograd.
TEST(Artifact, PrepackedWeightsAreReadCheckedAndLevelTagged) {
  pb::Msg g;
  std::vector<float> w(8 * 16 * 3 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 7) - 3) * 0.1f;
  g.m(5, pb::tensor_f32("w", {8, 16, 3, 3}, w));
  g.m(1, pb::node("Conv", {"x", "w"}, {"y"}, "conv", {pb::attr_ints("pads", {1, 1, 1, 1})}));
  g.s(2, "one_conv");
  g.m(11, pb::value_info("x", 1, {1, 16, 6, 6}));
  g.m(12, pb::value_info("y", 1, {1, 8, 6, 6}));
  const std::string onnx = ::testing::TempDir() + "/prepack.onnx", out = ::testing::TempDir() + "/prepack.pareto";
  write_all(onnx, pb::model(g).bytes);
  SessionOptions o;
  o.optimize = true;
  o.prepack_weights = true;
  auto s = Session::open(onnx, o);
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  ASSERT_TRUE(s.value()->save(out).ok());
  Tensor x = Tensor::zeros(DType::f32, {1, 16, 6, 6});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 13) * 0.1f - 0.6f;
  auto want = s.value()->run({{"x", x}});
  ASSERT_TRUE(want.ok());
  const size_t bytes = want.value()[0].nbytes();
  auto rewrite = [&](const std::function<void(ir::Graph&, ir::Node&)>& edit) {
    artifact::Compiled c = artifact::load(out);
    ir::Graph& graph = *c.model.graph;
    ir::Node* conv = nullptr;
    for (ir::Node& n : graph.nodes)
      if (n.has_attr("prepacked")) conv = &n;
    EXPECT_NE(conv, nullptr) << "the conv's weights were prepacked";
    if (conv) edit(graph, *conv);
    const std::string path = ::testing::TempDir() + "/prepack_edited.pareto";
    artifact::save(path, c.model, c.plan.get());
    return Session::open(path);
  };
  auto zero_packed = [](ir::Graph& graph, ir::Node& n) {
    const Tensor& packed = graph.values[size_t(n.inputs[4])].constant;
    n.inputs[4] = graph.add_constant("zeroed", Tensor::zeros(DType::f32, packed.shape()));
  };
  auto zeroed = rewrite(zero_packed);
  ASSERT_TRUE(zeroed.ok()) << zeroed.status().to_string();
  auto from_zeros = zeroed.value()->run({{"x", x}});
  ASSERT_TRUE(from_zeros.ok()) << from_zeros.status().to_string();
  EXPECT_NE(std::memcmp(from_zeros.value()[0].raw(), want.value()[0].raw(), bytes), 0) << "the stored packed weights were not used";
  auto other_level = rewrite([&](ir::Graph& graph, ir::Node& n) {
    zero_packed(graph, n);
    n.set_attr(ir::attr_int("prepacked_level", 99));
  });
  ASSERT_TRUE(other_level.ok()) << other_level.status().to_string();
  auto got = other_level.value()->run({{"x", x}});
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  EXPECT_EQ(std::memcmp(got.value()[0].raw(), want.value()[0].raw(), bytes), 0) << "another level's packing must be ignored";
  auto short_tensor = rewrite([](ir::Graph& graph, ir::Node& n) { n.inputs[4] = graph.add_constant("short", Tensor::zeros(DType::f32, {5})); });
  ASSERT_TRUE(short_tensor.ok()) << short_tensor.status().to_string();
  auto refused = short_tensor.value()->run({{"x", x}});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message.find("prepacked"), std::string::npos) << refused.status().message;
  EXPECT_NE(refused.status().message.find("conv"), std::string::npos) << refused.status().message;
}

TEST(Artifact, TruncatedCorruptedAndWrongVersionFilesAreRefused) {
  const std::string path = small_artifact(), bytes = read_all(path), bad = ::testing::TempDir() + "/bad.pareto";
  auto refused = [&](const std::string& data, const std::string& expect) {
    write_all(bad, data);
    auto s = Session::open(bad);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message.find(expect), std::string::npos) << s.status().message;
  };
  for (size_t cut : {size_t(8), size_t(63), size_t(64), bytes.size() / 2, bytes.size() - 1}) refused(bytes.substr(0, cut), cut < 8 ? "" : "");
  refused(bytes.substr(0, bytes.size() - 1), "truncated");
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x40;
  refused(flipped, "checksum");
  std::string later = bytes;  // a later format than this build reads
  later[8] = char(artifact::kVersion + 1);
  refused(later, "version " + std::to_string(artifact::kVersion + 1));
  std::string v0 = bytes;
  v0[8] = 0;
  refused(v0, "version 0");
  for (char older : {1, 2, 3}) {  // versions 1 (before post_floor), 2 (before out_scale) and 3 (before int8 weight codes) still load
    std::string v = bytes;
    v[8] = older;
    write_all(bad, v);
    EXPECT_TRUE(Session::open(bad).ok()) << "version " << int(older);
  }
  std::string wrong_magic = bytes;
  wrong_magic[0] = 'X';
  refused(wrong_magic, "");
}

TEST(Artifact, HostileGraphSectionsNeverCrashTheReader) {
  const std::string bytes = read_all(small_artifact());
  std::mt19937 rng(1234);
  int refused = 0, accepted = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string m = bytes;
    const int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      const size_t at = 64 + rng() % (m.size() - 64);
      m[at] = char(rng() % 3 == 0 ? 0xFF : rng());
    }
    fix_checksum(m);  // past the checksum: the parser itself meets the damage
    // The reader wants the 64-byte alignment an mmap gives: copy into an aligned buffer of the exact size.
    std::shared_ptr<uint8_t> buf(static_cast<uint8_t*>(std::aligned_alloc(64, (m.size() + 63) / 64 * 64)), std::free);
    std::memcpy(buf.get(), m.data(), m.size());
    try {
      auto c = artifact::load_from_memory(buf.get(), m.size(), "mutant", buf);
      ++accepted;
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("mutant"), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(refused, 0);
  std::printf("[artifact] 3000 mutants: %d refused, %d still well-formed\n", refused, accepted);
}
