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

// Repacks the matmul weights of every packable GGML type (Q4_0 Q4_1 Q5_0
// Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K Q6_K IQ4_NL IQ4_XS; kernels::packable) when
// this CPU has a kernel for the packed layout and it beats the row kernels
// for the type (kernels::packed_type_preferred: on AArch64 Q6_K stays in
// GGML's layout), and moves F16 / BF16 / F32
// matrices into huge pages (same layout); a no-op on other CPUs.
// release_sources drops the old copy's pages (MADV_DONTNEED) as it goes:
// right for matrices in a mapped file, wrong for ones in heap buffers that
// stay in use (pareto tune's candidates share them), which it would zero.
RepackReport repack_for_cpu(Model& m, bool release_sources = true);
// The same for one matrix of `m` (its new buffer owned by m); false when it
// stays as it is (no kernel for a packed layout, already packed). A float
// matrix moved once would move again: call it once per matrix.
bool repack_matrix_for_cpu(Model& m, kernels::WeightMatrix& w, bool release_sources);

}  // namespace pareto::llm
