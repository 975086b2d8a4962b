// The TFLite frontend: a real uint8 model read and run, and truncated or
// corrupted copies of it refused with an error naming the file (never a
// crash, a hang or a huge allocation).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>

#include "frontend/tflite/tflite_loader.h"
#include "pareto/error.h"
#include "runtime/executor.h"

namespace pareto {
namespace {

// In the repository (the fuzz corpus): no ../shared needed.
std::vector<uint8_t> seed_model() {
  std::ifstream f(std::string(PARETO_SOURCE_DIR) + "/tests/fuzz/corpus/tflite/mobilenet_v1_0.25_128_quant.tflite", std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Loads and, when it loads, runs once on zeros; returns the error text ("" when it ran).
std::string load_and_run(const std::vector<uint8_t>& bytes) {
  try {
    ir::Model m = tflite::load_model_from_memory(bytes.data(), bytes.size(), "test.tflite");
    runtime::check_supported(*m.graph);
    runtime::Executor ex(m.opset(), runtime::ExecOptions{});
    std::vector<Tensor> inputs;
    for (int v : m.graph->inputs) inputs.push_back(Tensor::zeros(m.graph->values[size_t(v)].type.dtype, m.graph->values[size_t(v)].type.dims));
    ex.run_graph(*m.graph, inputs, nullptr);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

TEST(TfliteLoader, ReadsAQuantizedMobileNet) {
  const std::vector<uint8_t> bytes = seed_model();
  ASSERT_GT(bytes.size(), 100000u);
  ASSERT_TRUE(tflite::is_tflite(bytes.data(), bytes.size()));
  ir::Model m = tflite::load_model_from_memory(bytes.data(), bytes.size(), "mobilenet.tflite");
  const ir::Graph& g = *m.graph;
  ASSERT_EQ(g.inputs.size(), 1u);
  const ir::Value& in = g.values[size_t(g.inputs[0])];
  EXPECT_EQ(in.type.dims, (Shape{1, 128, 128, 3}));
  EXPECT_EQ(in.type.dtype, DType::u8);
  EXPECT_EQ(in.quant_zero, std::vector<int64_t>{128});
  EXPECT_FLOAT_EQ(in.quant_scale.at(0), 0.0078125f);
  EXPECT_EQ(g.nodes.size(), 31u);
  EXPECT_EQ(ir::op_histogram(g).at("TflConv2D"), 15);
  EXPECT_EQ(ir::op_histogram(g).at("TflDepthwiseConv2D"), 13);
  EXPECT_EQ(load_and_run(bytes), "");
}

TEST(TfliteLoader, TruncatedFilesAreClearErrors) {
  const std::vector<uint8_t> bytes = seed_model();
  ASSERT_FALSE(bytes.empty());
  for (size_t n : {size_t(0), size_t(4), size_t(7), size_t(8), size_t(64), size_t(4096), size_t(100000), bytes.size() / 2}) {  // (the file ends in a zip of labels that the model does not reference)
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + long(n));
    const std::string e = load_and_run(cut);
    EXPECT_NE(e, "") << n << " bytes";
    if (n >= 8) {
      EXPECT_NE(e.find("test.tflite"), std::string::npos) << e;
    }
  }
  std::vector<uint8_t> wrong = bytes;
  wrong[4] = 'X';
  EXPECT_NE(load_and_run(wrong).find("identifier"), std::string::npos);
}

TEST(TfliteLoader, CorruptedBytesNeverCrash) {
  const std::vector<uint8_t> bytes = seed_model();
  ASSERT_FALSE(bytes.empty());
  // Flip bytes in the FlatBuffer's tables (the first and last few KiB hold
  // vtables, offsets, shapes and quantization; the middle is weights).
  std::mt19937 rng(11);
  int refused = 0;
  for (int i = 0; i < 120; ++i) {
    std::vector<uint8_t> bad = bytes;
    for (int k = 0; k < 4; ++k) {
      const size_t region = rng() % 2 ? rng() % 4096 : bytes.size() - 1 - rng() % 16384;
      bad[region] = uint8_t(rng());
    }
    refused += load_and_run(bad) != "";
  }
  EXPECT_GT(refused, 0) << "some corruptions must be caught";
}

}  // namespace
}  // namespace pareto
