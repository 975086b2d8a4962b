// libFuzzer target for compiled .pareto artifacts: the reader (graph, tensor
// table, memory plan) and then the executor adopting the stored plan and
// running the model once when its inputs are small and static. The checksum
// is fixed up first so mutations reach the parser rather than stopping at
// the checksum test.
#include <cstdlib>
#include <cstring>
#include <memory>

#include "frontend/artifact/artifact.h"
#include "fuzz_support.h"
#include "passes/memory_plan.h"
#include "runtime/executor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<uint8_t> buf(static_cast<uint8_t*>(std::aligned_alloc(64, (size + 64) / 64 * 64)), std::free);
  std::memcpy(buf.get(), data, size);
  if (size >= 64) {
    const uint64_t h = pareto::artifact::checksum(buf.get() + 64, size - 64);
    std::memcpy(buf.get() + 24, &h, 8);
  }
  pareto::fuzz::expect_clean_refusal([&] {
    pareto::artifact::Compiled c = pareto::artifact::load_from_memory(buf.get(), size, "fuzz.pareto", buf);
    const pareto::ir::Graph& g = *c.model.graph;
    pareto::runtime::check_supported(g);
    pareto::runtime::Executor ex(c.model.opset(), pareto::runtime::ExecOptions{false, 1, true, pareto::passes::plan_memory_default});
    if (c.plan) ex.adopt_memory_plan(g, std::move(c.plan));
    std::vector<pareto::Tensor> inputs;
    for (int v : g.inputs) {
      const pareto::ir::ValueType& t = g.values[size_t(v)].type;
      if (!t.fully_known() || t.dtype != pareto::DType::f32) return;
      int64_t n = 1;
      for (int64_t d : t.dims) {
        if (d < 0 || d > 4096 || (n *= d) > 4096) return;
      }
      inputs.push_back(pareto::Tensor::zeros(t.dtype, t.dims));
    }
    ex.run_graph(g, inputs, nullptr);
  });
  return 0;
}
