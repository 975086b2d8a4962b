// libFuzzer target for ONNX models: load (our wire-format reader), static
// shape inference, the compiler's passes and memory plan, then one run when
// every input has a small static shape. The custom mutator edits the decoded
// protobuf tree (wire_mutator.h), so mutations get past the nested lengths.
#include <memory>

#include "fuzz_support.h"
#include "passes/passes.h"
#include "passes/memory_plan.h"
#include "runtime/executor.h"
#include "runtime/shape_infer.h"
#include "frontend/onnx/onnx_loader.h"
#include "wire_mutator.h"

namespace {

// Inputs of the run: only when every input is static and small, so the run
// costs about as much as the load (a model's own sizes are what the
// resource limits are fuzzed with, not the inputs we choose).
bool make_inputs(const pareto::ir::Graph& g, std::vector<pareto::Tensor>& out) {
  for (int v : g.inputs) {
    const pareto::ir::ValueType& t = g.values[size_t(v)].type;
    if (!t.fully_known() || t.non_tensor) return false;
    int64_t n = 1;
    for (int64_t d : t.dims) {
      if (d < 0 || d > 4096) return false;
      n *= d;
      if (n > 4096) return false;
    }
    if (t.dtype != pareto::DType::f32 && t.dtype != pareto::DType::i64 && t.dtype != pareto::DType::i32) return false;
    out.push_back(pareto::Tensor::zeros(t.dtype, t.dims));
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pareto::fuzz::expect_clean_refusal([&] {
    // No base folder: external data is refused rather than read from wherever a mutated path points.
    pareto::ir::Model m = pareto::onnx::load_model_from_memory(data, size, "fuzz.onnx", "");
    pareto::ir::Graph& g = *m.graph;
    pareto::runtime::check_supported(g);
    pareto::runtime::infer_static(g, m.opset(), {});
    pareto::passes::PassContext pc;
    pc.opset = m.opset();
    pareto::passes::optimize_graph(g, pc);
    pareto::runtime::Executor ex(m.opset(), pareto::runtime::ExecOptions{false, 1, true, pareto::passes::plan_memory_default});
    ex.memory_plan(g);
    std::vector<pareto::Tensor> inputs;
    if (make_inputs(g, inputs)) ex.run_graph(g, inputs, nullptr);
  });
  return 0;
}

#ifdef PARETO_LIBFUZZER
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937_64 rng(seed);
  std::vector<pareto::fuzz::WireField> msg;
  // One in four mutations stays blind (it finds what the tree cannot express:
  // broken varints and lengths); the rest edit the decoded model.
  if (rng() % 4 != 0 && pareto::fuzz::parse_wire(data, size, msg)) {
    for (int i = 0, n = 1 + int(rng() % 3); i < n; ++i) pareto::fuzz::mutate_wire(msg, rng);
    const std::string out = pareto::fuzz::encode_wire(msg);
    if (out.size() <= max_size) {
      std::memcpy(data, out.data(), out.size());
      return out.size();
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
#endif
