#include "llm/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "core/file.h"
#include "core/thread_pool.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::llm {

namespace {

// The file's pages behind a repacked matrix are no longer read: drop them
// from this process's resident set (the page cache keeps them for others).
void release_pages(const void* p, size_t n) {
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (e > b) madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

}  // namespace

RepackReport repack_for_cpu(Model& m) {
  RepackReport report;
  if (!kernels::packed_weights_preferred()) return report;
  const double t0 = now_seconds();
  std::map<const void*, kernels::WeightMatrix> done;  // tied matrices repack once
  auto repack = [&](kernels::WeightMatrix& w) {
    const bool q4 = w.type == uint32_t(kernels::GgmlType::q4_0), q8 = w.type == uint32_t(kernels::GgmlType::q8_0);
    if (!(q4 || q8) || w.packed_scales || w.cols % kernels::kPackedChunk || !w.data) return;
    if (auto it = done.find(w.data); it != done.end()) {
      w = it->second;
      return;
    }
    const size_t qs_bytes = kernels::packed_qs_bytes(w.rows, w.cols, q4 ? 4 : 8), scale_bytes = size_t(w.rows * (w.cols / 32)) * 2;
    const size_t total = (qs_bytes + scale_bytes + 63) / 64 * 64;
    std::shared_ptr<void> buf = allocate_large(total);
    auto* qs = static_cast<uint8_t*>(buf.get());
    auto* scales = reinterpret_cast<uint16_t*>(qs + qs_bytes);
    const void* src = w.data;
    parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
      if (q4) kernels::pack_q4_0_rows(src, w.cols, r0, r1, qs, scales);
      else kernels::pack_q8_0_rows(src, w.cols, r0, r1, qs, scales);
    });
    release_pages(src, kernels::ggml_row_size(w.type, w.cols) * size_t(w.rows));
    m.owners.push_back(buf);
    const void* key = w.data;
    w.data = qs;
    w.packed_scales = scales;
    done[key] = w;
    report.matrices++;
    report.bytes += qs_bytes + scale_bytes;
  };
  for (auto& l : m.layers)
    for (auto* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) repack(*w);
  repack(m.output);
  // A tied embedding reads rows of the same matrix: it follows the output.
  if (auto it = done.find(m.token_embd.data); it != done.end()) m.token_embd = it->second;
  report.seconds = now_seconds() - t0;
  return report;
}

}  // namespace pareto::llm
