// libFuzzer target for TFLite models: the FlatBuffers reader (every offset,
// vtable and vector length), the tensors' shapes, types, buffers and
// quantization, the operators' options, then one run when every input is
// small and integer or float.
#include <memory>

#include "frontend/tflite/tflite_loader.h"
#include "fuzz_support.h"
#include "runtime/executor.h"

namespace {

bool make_inputs(const pareto::ir::Graph& g, std::vector<pareto::Tensor>& out) {
  for (int v : g.inputs) {
    const pareto::ir::ValueType& t = g.values[size_t(v)].type;
    int64_t n = 1;
    for (int64_t d : t.dims) {
      if (d < 0 || d > 4096) return false;
      n *= d;
      if (n > (1 << 16)) return false;
    }
    if (t.dtype != pareto::DType::f32 && t.dtype != pareto::DType::u8 && t.dtype != pareto::DType::i8) return false;
    out.push_back(pareto::Tensor::zeros(t.dtype, t.dims));
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pareto::fuzz::expect_clean_refusal([&] {
    pareto::ir::Model m = pareto::tflite::load_model_from_memory(data, size, "fuzz.tflite");
    pareto::ir::Graph& g = *m.graph;
    pareto::runtime::check_supported(g);
    pareto::runtime::Executor ex(m.opset(), pareto::runtime::ExecOptions{false, 1, false, nullptr});
    std::vector<pareto::Tensor> inputs;
    if (make_inputs(g, inputs)) ex.run_graph(g, inputs, nullptr);
  });
  return 0;
}
