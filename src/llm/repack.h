// Load-time weight layout changes for the CPU kernels (see
// kernels/packed_weights.h). Each repacked matrix moves into a buffer owned by
// the model and its pages in the mapped file are released, so resident
// memory holds one copy.
#pragma once
#include <cstddef>

#include "llm/model.h"

namespace pareto::llm {

struct RepackReport {
  int matrices = 0;
  size_t bytes = 0;
  double seconds = 0;
};

// Repacks the Q4_0, Q8_0, Q4_K, Q5_K and Q6_K matmul weights when this CPU
// has a kernel for the packed layout; a no-op otherwise.
RepackReport repack_for_cpu(Model& m);

}  // namespace pareto::llm
