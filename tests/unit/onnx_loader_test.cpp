// Hostile and broken model files must fail with a clear message, never crash,
// hang or allocate absurd amounts of memory.
#include <gtest/gtest.h>

#include <random>

#include "../apps/scratch_dir.h"
#include "frontend/onnx/onnx_loader.h"
#include "proto_builder.h"
#include "runtime/executor.h"
#include "runtime/shape_infer.h"
#include "pareto/limits.hpp"

using namespace pareto;
using namespace pareto::test;

namespace {

ir::Model load(const std::string& bytes) {
  return onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.onnx", "");
}

std::string error_of(const std::string& bytes) {
  try {
    ir::Model m = load(bytes);
    runtime::check_supported(*m.graph);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::vector<Tensor> run(const ir::Model& m, std::vector<Tensor> inputs) {
  runtime::Executor ex(m.opset(), {});
  return ex.run_graph(*m.graph, inputs, nullptr);
}

}  // namespace

TEST(OnnxLoader, LoadsAndRunsSmallModel) {
  ir::Model m = load(small_model());
  ASSERT_EQ(m.graph->nodes.size(), 2u);
  Tensor x = Tensor::from_vector<float>({1, 1, 1, -5, 0, 0}, {2, 3});
  std::vector<Tensor> y = run(m, {x});
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].shape(), (Shape{2, 3}));
  std::vector<float> want = {2, 0, 1.5f, 0, 0, 0.5f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y[0].data<float>()[i], want[size_t(i)]);
}

TEST(OnnxLoader, EveryTruncationFailsCleanly) {
  std::string bytes = small_model();
  size_t refused = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    ir::Model m;
    try {
      m = load(bytes.substr(0, n));
    } catch (const Error& e) {
      ++refused;
      EXPECT_NE(std::string(e.what()).find("test.onnx"), std::string::npos) << "prefix of " << n << " bytes: " << e.what();
      continue;
    }
    // A prefix that ends between two fields is a well-formed message that
    // lacks parts: the graph checks must then refuse it, or it is complete.
    try {
      runtime::check_supported(*m.graph);
      runtime::infer_static(*m.graph, m.opset(), {});
    } catch (const Error&) {
      ++refused;
    }
  }
  // Almost every cut lands inside a field; only cuts between the graph's
  // trailing fields (names, value infos) can leave a loadable model.
  EXPECT_GT(refused, bytes.size() * 3 / 4) << refused << " of " << bytes.size() << " prefixes refused";
}

TEST(OnnxLoader, TruncatedFileNamesOffset) {
  std::string bytes = small_model();
  std::string msg = error_of(bytes.substr(0, bytes.size() - 3));
  EXPECT_NE(msg.find("test.onnx"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset"), std::string::npos) << msg;
}

TEST(OnnxLoader, RandomMutationsNeverCrash) {
  std::string base = small_model();
  std::mt19937 rng(1234);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = base;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = char(rng());
    try {
      ir::Model m = load(b);
      runtime::check_supported(*m.graph);
      if (!m.graph->inputs.empty()) {
        const ir::ValueType& t = m.graph->values[size_t(m.graph->inputs[0])].type;
        if (t.fully_known() && shape_numel(t.dims) < 4096 && t.dtype == DType::f32) run(m, {Tensor::zeros(DType::f32, t.dims)});
      }
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 100);
}

TEST(OnnxLoader, WrongWireTypeIsReported) {
  // graph (field 7) encoded as a varint instead of a message
  std::string msg = error_of(Msg().i(1, 8).i(7, 5).bytes);
  EXPECT_NE(msg.find("wire type"), std::string::npos) << msg;
}

TEST(OnnxLoader, LengthPastEndIsReported) {
  Msg m;
  m.i(1, 8).tag(7, 2).varint_raw(1000);  // claims 1000 bytes, has none
  std::string msg = error_of(m.bytes);
  EXPECT_NE(msg.find("runs past the end"), std::string::npos) << msg;
}

TEST(OnnxLoader, AbsurdDimsDoNotAllocate) {
  Msg g;
  Msg t;
  t.i(1, int64_t(1) << 30).i(1, int64_t(1) << 30).i(2, 1).s(8, "huge").s(9, std::string(16, '\0'));
  g.m(5, t).m(1, node("Relu", {"huge"}, {"y"}, "r")).m(12, value_info("y", 1, {}));
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("huge"), std::string::npos) << msg;
  EXPECT_NE(msg.find("raw_data"), std::string::npos) << msg;
}

TEST(OnnxLoader, OverflowingDimsAreReported) {
  Msg g, t;
  t.i(1, int64_t(1) << 62).i(1, 16).i(2, 1).s(8, "ovf").s(9, std::string(16, '\0'));
  g.m(5, t);
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("overflow"), std::string::npos) << msg;
}

TEST(OnnxLoader, RuntimeAllocationLimitHolds) {
  // ConstantOfShape asking for 2^40 floats must fail, not allocate.
  Msg g;
  Msg shape;
  shape.i(1, 2).i(2, 7).s(8, "shape");
  std::string raw(16, '\0');
  int64_t dims[2] = {int64_t(1) << 20, int64_t(1) << 20};
  std::memcpy(raw.data(), dims, 16);
  shape.s(9, raw);
  g.m(5, shape).m(1, node("ConstantOfShape", {"shape"}, {"y"}, "cos")).m(12, value_info("y", 1, {}));
  ir::Model m = load(model(g).bytes);
  try {
    run(m, {});
    FAIL() << "expected an allocation error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::out_of_memory);
    EXPECT_NE(std::string(e.what()).find("above the tensor-elements limit"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--limit tensor-elements=N"), std::string::npos) << e.what();
  }
  // Under a lower tensor-bytes limit a small tensor is refused too, and the message says how to raise it.
  Limits low;
  low.tensor_bytes = 1024;
  LimitsScope scope(low);
  try {
    Tensor::empty(DType::f32, {16, 17});
    FAIL() << "expected a tensor-bytes error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 1088, above the tensor-bytes limit of 1024"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(Tensor::empty(DType::f32, {16, 16}));
}

TEST(OnnxLoader, CycleNamesANode) {
  Msg g;
  g.m(1, node("Relu", {"b"}, {"a"}, "first")).m(1, node("Relu", {"a"}, {"b"}, "second"));
  g.m(12, value_info("a", 1, {1}));
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("cycle"), std::string::npos) << msg;
  EXPECT_NE(msg.find("first"), std::string::npos) << msg;
}

TEST(OnnxLoader, MissingInputIsNamed) {
  Msg g;
  g.m(1, node("Relu", {"nowhere"}, {"y"}, "r0")).m(12, value_info("y", 1, {1}));
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("'nowhere'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("r0"), std::string::npos) << msg;
}

TEST(OnnxLoader, DuplicateDefinitionIsReported) {
  Msg g;
  g.m(11, value_info("x", 1, {1}));
  g.m(1, node("Relu", {"x"}, {"y"}, "a")).m(1, node("Relu", {"x"}, {"y"}, "b")).m(12, value_info("y", 1, {1}));
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("defined twice"), std::string::npos) << msg;
}

TEST(OnnxLoader, UnsupportedOpsListedTogether) {
  Msg g;
  g.m(11, value_info("x", 1, {1}));
  g.m(1, node("FancyOp", {"x"}, {"a"}, "fancy1")).m(1, node("OtherOp", {"a"}, {"b"}, "other1"));
  g.m(1, node("FancyOp", {"b"}, {"y"}, "fancy2")).m(12, value_info("y", 1, {1}));
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("FancyOp (2 nodes: 'fancy1', 'fancy2')"), std::string::npos) << msg;
  EXPECT_NE(msg.find("OtherOp (1 node: 'other1')"), std::string::npos) << msg;
}

TEST(OnnxLoader, DeepSubgraphNestingIsRefused) {
  Msg inner;
  inner.m(12, value_info("c", 9, {}));
  for (int depth = 0; depth < 100; ++depth) {
    Msg g;
    g.m(1, node("If", {"c"}, {}, "if" + std::to_string(depth), {attr_graph("then_branch", inner), attr_graph("else_branch", Msg())}));
    inner = g;
  }
  std::string msg = error_of(model(inner).bytes);
  EXPECT_NE(msg.find("nested deeper"), std::string::npos) << msg;
}

TEST(OnnxLoader, ExternalDataCannotEscapeModelDir) {
  Msg g, t;
  t.i(1, 4).i(2, 1).s(8, "w").i(14, 1).m(13, Msg().s(1, "location").s(2, "../../etc/passwd"));
  g.m(5, t);
  std::string bytes = model(g).bytes;
  try {
    onnx::load_model_from_memory(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "m.onnx", "/tmp");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("escapes"), std::string::npos) << e.what();
  }
}

TEST(OnnxLoader, TypedDataCountMismatchIsReported) {
  Msg g, t;
  t.i(1, 3).i(2, 1).s(8, "w").f(4, 1.f).f(4, 2.f);  // 2 floats for 3 elements
  g.m(5, t);
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("typed values"), std::string::npos) << msg;
}

TEST(OnnxLoader, TypedDataInTheWrongFieldIsReported) {
  // data_type INT64 (7) with its values in float_data: the count matches the
  // shape, the field does not (this read an empty int64 array and crashed).
  Msg g, t;
  t.i(1, 3).i(2, 7).s(8, "w").f(4, 1.f).f(4, 2.f).f(4, 3.f);
  g.m(5, t);
  std::string msg = error_of(model(g).bytes);
  EXPECT_NE(msg.find("typed data field does not match data_type int64"), std::string::npos) << msg;
  // and FLOAT (1) with its values in int64_data (field 7)
  Msg g2, t2;
  t2.i(1, 2).i(2, 1).s(8, "w").i(7, 5).i(7, 6);
  g2.m(5, t2);
  msg = error_of(model(g2).bytes);
  EXPECT_NE(msg.find("typed data field does not match data_type float32"), std::string::npos) << msg;
}

TEST(OnnxLoader, ConstantNodeFormsBecomeConstants) {
  Msg g;
  g.m(1, node("Constant", {}, {"c1"}, "k1", {Msg().s(1, "value_float").i(20, 1).f(2, 2.5f)}));
  g.m(1, node("Constant", {}, {"c2"}, "k2", {Msg().s(1, "value_ints").i(20, 7).i(8, 4).i(8, 5)}));
  g.m(1, node("Constant", {}, {"c3"}, "k3", {Msg().s(1, "value").i(20, 4).m(5, tensor_f32("", {2}, {1, 2}))}));
  g.m(1, node("Mul", {"c1", "c3"}, {"y"}, "mul"));
  g.m(1, node("Identity", {"c2"}, {"z"}, "id"));
  g.m(12, value_info("y", 1, {2})).m(12, value_info("z", 7, {2}));
  ir::Model m = load(model(g).bytes);
  EXPECT_EQ(m.graph->nodes.size(), 2u);
  std::vector<Tensor> out = run(m, {});
  EXPECT_FLOAT_EQ(out[0].data<float>()[1], 5.f);
  EXPECT_EQ(out[1].data<int64_t>()[1], 5);
}

TEST(OnnxLoader, WrongInputShapeIsRejectedAtRun) {
  ir::Model m = load(small_model());
  try {
    run(m, {Tensor::zeros(DType::f32, {3, 3})});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected shape [2,3]"), std::string::npos) << e.what();
  }
}

namespace {

std::string temp_dir() { return pareto::testing::scratch_dir(); }  // removed when the test passes

void write_file(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_TRUE(f);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

std::string external_model(const std::string& location, int64_t offset, int64_t length) {
  Msg g, t;
  t.i(1, 3).i(2, 1).s(8, "b").i(14, 1);
  t.m(13, Msg().s(1, "location").s(2, location));
  t.m(13, Msg().s(1, "offset").s(2, std::to_string(offset)));
  t.m(13, Msg().s(1, "length").s(2, std::to_string(length)));
  g.m(5, t).m(1, node("Add", {"x", "b"}, {"y"}, "add")).m(11, value_info("x", 1, {3})).m(12, value_info("y", 1, {3}));
  return model(g).bytes;
}

}  // namespace

TEST(OnnxLoader, ExternalDataIsMappedFromTheModelDirectory) {
  std::string dir = temp_dir();
  float w[4] = {0.f, 10.f, 20.f, 30.f};  // the tensor starts at offset 4
  write_file(dir + "/weights.bin", std::string(reinterpret_cast<const char*>(w), sizeof w));
  write_file(dir + "/m.onnx", external_model("weights.bin", 4, 12));
  ir::Model m = onnx::load_model(dir + "/m.onnx");
  std::vector<Tensor> y = run(m, {Tensor::from_vector<float>({1, 2, 3}, {3})});
  EXPECT_FLOAT_EQ(y[0].data<float>()[0], 11.f);
  EXPECT_FLOAT_EQ(y[0].data<float>()[2], 33.f);
  // a range past the end of the data file is reported, naming the file
  write_file(dir + "/bad.onnx", external_model("weights.bin", 8, 12));
  try {
    onnx::load_model(dir + "/bad.onnx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("past the end of"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor 'b'"), std::string::npos) << e.what();
  }
}

TEST(OnnxLoader, MissingFileIsAnIoError) {
  try {
    onnx::load_model("/nonexistent/model.onnx");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), StatusCode::io_error);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.onnx"), std::string::npos);
  }
}
