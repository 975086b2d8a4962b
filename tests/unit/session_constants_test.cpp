// SessionOptions::constant_inputs: bound by the graph compiler (the input
// leaves the session's inputs and the outputs equal a run that feeds the
// same value), and refused without it rather than ignored.
#include <gtest/gtest.h>

#include <fstream>

#include "pareto/pareto.hpp"
#include "proto_builder.h"

using namespace pareto;

TEST(SessionConstants, BoundByTheCompilerAndRefusedWithoutIt) {
  const std::string path = ::testing::TempDir() + "/session_constants.onnx";
  std::ofstream(path, std::ios::binary) << pareto::test::small_model();
  const Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, -4, 5, -6}, {2, 3});
  SessionOptions fed;
  fed.optimize = true;
  auto a = Session::open(path, fed);
  ASSERT_TRUE(a.ok()) << a.status().message;
  auto want = a.value()->run({{"x", x}});
  ASSERT_TRUE(want.ok()) << want.status().message;

  SessionOptions bound = fed;
  bound.constant_inputs = {{"x", x}};
  auto b = Session::open(path, bound);
  ASSERT_TRUE(b.ok()) << b.status().message;
  for (const TensorInfo& in : b.value()->inputs()) EXPECT_NE(in.name, "x");
  auto got = b.value()->run({});
  ASSERT_TRUE(got.ok()) << got.status().message;
  ASSERT_EQ(got.value().size(), want.value().size());
  for (size_t k = 0; k < got.value().size(); ++k) {
    ASSERT_EQ(got.value()[k].numel(), want.value()[k].numel());
    for (int64_t e = 0; e < got.value()[k].numel(); ++e) EXPECT_FLOAT_EQ(float(got.value()[k].as_double(e)), float(want.value()[k].as_double(e)));
  }

  bound.optimize = false;
  auto c = Session::open(path, bound);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message.find("optimize"), std::string::npos) << c.status().message;
}
