// pareto tune's ONNX tests: a small conv net written as an ONNX file, its
// samples, and what a candidate file holds.
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "frontend/onnx/onnx_loader.h"
#include "pareto/tune.hpp"
#include "proto_builder.h"

namespace pareto::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// x[1,8,16,16] -> Conv 3x3 (16) -> Relu -> Conv 1x1 (16) -> Relu -> Conv 3x3 (16) -> Relu -> Conv 1x1 (4) -> y
// Each test its own file: ctest runs them in parallel processes.
inline std::string model_file(const std::string& name) {
  pareto::test::Msg g;
  int k = 0;
  auto conv = [&](const std::string& x, const std::string& y, int64_t cin, int64_t cout, int64_t ks) {
    const std::string w = "conv_w" + std::to_string(k), b = "conv_b" + std::to_string(k);
    g.m(5, pareto::test::tensor_f32(w, {cout, cin, ks, ks}, random_floats(size_t(cout * cin * ks * ks), uint32_t(10 + k), -0.3f, 0.3f)));
    g.m(5, pareto::test::tensor_f32(b, {cout}, random_floats(size_t(cout), uint32_t(50 + k), -0.1f, 0.1f)));
    ++k;
    g.m(1, pareto::test::node("Conv", {x, w, b}, {y}, y + "_conv", {pareto::test::attr_ints("kernel_shape", {ks, ks}), pareto::test::attr_ints("pads", {ks / 2, ks / 2, ks / 2, ks / 2})}));
  };
  conv("x", "a", 8, 16, 3);
  g.m(1, pareto::test::node("Relu", {"a"}, {"a1"}, "r1"));
  conv("a1", "b", 16, 16, 1);
  g.m(1, pareto::test::node("Relu", {"b"}, {"b1"}, "r2"));
  conv("b1", "c", 16, 16, 3);
  g.m(1, pareto::test::node("Relu", {"c"}, {"c1"}, "r3"));
  conv("c1", "y", 16, 4, 1);
  g.s(2, "tune");
  g.m(11, pareto::test::value_info("x", 1, {1, 8, 16, 16}));
  g.m(12, pareto::test::value_info("y", 1, {1, 4, 16, 16}));
  const std::string path = ::testing::TempDir() + "/" + name + ".onnx";
  std::ofstream(path, std::ios::binary) << pareto::test::model(g, 13).bytes;
  return path;
}

inline std::vector<CalibrationSample> samples(uint32_t seed, int n) {
  std::vector<CalibrationSample> out;
  for (int i = 0; i < n; ++i)
    out.push_back({{"x", Tensor::from_vector<float>(random_floats(8 * 16 * 16, seed + uint32_t(i), -2.f, 2.f), {1, 8, 16, 16})}});
  return out;
}

// Options for a fast search: one thread, 2 timed runs, minmax ranges, no energy profile.
inline OnnxTuneOptions quick_tune_options(int points, int rounds) {
  OnnxTuneOptions o;
  o.threads = {1};
  o.points = points;
  o.runs = 2;
  o.warmup = 1;
  o.method = "minmax";
  o.energy = false;
  o.rounds = rounds;
  return o;
}

inline int quantize_nodes(const std::string& path) {
  const ir::Model m = onnx::load_model(path);
  int n = 0;
  for (const ir::Node& node : m.graph->nodes) n += node.op_type == "QuantizeLinear";
  return n;
}

inline std::string bytes_of(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

}  // namespace pareto::test
