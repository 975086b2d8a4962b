// The conv-precision tests' end-to-end half: the PP-OCRv4 recognizer
// compiled at fp32 and at another conv precision, run on one input.
#pragma once
#include <map>
#include <string>

#include "kernel_test_util.h"
#include "pareto/pareto.hpp"

namespace pareto::testing {

struct RecognizerAtPrecision {
  std::map<std::string, int> rewrites;  // what assign_precision did
  Tensor f32, other;                    // the two outputs on the same input
};

// "" and `out` filled, or what went wrong.
inline std::string run_recognizer_at(const std::string& model, const std::string& precision, RecognizerAtPrecision& out) {
  SessionOptions f32_opt;
  f32_opt.optimize = true;
  f32_opt.shapes = {{"x", {1, 3, 48, 320}}};
  SessionOptions other_opt = f32_opt;
  other_opt.conv_precision = precision;
  auto a = Session::open(model, f32_opt);
  auto b = Session::open(model, other_opt);
  if (!a.ok() || !b.ok()) return (a.ok() ? b : a).status().to_string();
  for (const PassSummary& s : b.value()->passes())
    if (s.pass == "assign_precision")
      for (const auto& [what, n] : s.rewrites) out.rewrites[what] += int(n);
  auto x = randn(size_t(3 * 48 * 320), 11, 0.5f);
  std::map<std::string, Tensor> in{{"x", Tensor::from_vector(x, {1, 3, 48, 320})}};
  auto ya = a.value()->run(in);
  auto yb = b.value()->run(in);
  if (!ya.ok() || !yb.ok()) return (ya.ok() ? yb : ya).status().to_string();
  out.f32 = ya.value()[0];
  out.other = yb.value()[0];
  if (out.f32.shape() != out.other.shape()) return "the outputs' shapes differ";
  return "";
}

}  // namespace pareto::testing
