// Uses the installed C++ API: opens an ONNX model, runs it on a known input
// and prints the output, so run.sh can compare it with the expected values.
#include <cstdio>

#include "pareto/pareto.hpp"
#include "pareto/quantize.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer_cpp MODEL.onnx (one float input [3, 4, 5], e.g. ONNX's test_relu)\n");
    return 2;
  }
  std::printf("pareto %s\n", pareto::version().c_str());
  // A public enum and function from the quantization API link too.
  std::printf("method %s\n", pareto::quant_method_name(pareto::QuantMethod::awq));
  auto session = pareto::Session::open(argv[1]);
  if (!session.ok()) {
    std::fprintf(stderr, "%s\n", session.status().to_string().c_str());
    return 1;
  }
  pareto::Tensor x = pareto::Tensor::empty(pareto::DType::f32, {3, 4, 5});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 7) - 3.f;
  auto out = session.value()->run({{session.value()->inputs()[0].name, x}});
  if (!out.ok()) {
    std::fprintf(stderr, "%s\n", out.status().to_string().c_str());
    return 1;
  }
  const pareto::Tensor& y = out.value()[0];
  std::printf("y:");
  for (int64_t i = 0; i < 8; ++i) std::printf(" %g", double(y.data<float>()[i]));
  std::printf("\n");
  return 0;
}
