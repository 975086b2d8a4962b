#include "llm/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>

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
    if (!kernels::packable(w.type, w.cols) || w.packed_meta || !w.data) return;
    const std::optional<kernels::PackedKind> kind = kernels::packed_kind_for(w.type);
    if (auto it = done.find(w.data); it != done.end()) {
      w = it->second;
      return;
    }
    const size_t qs_bytes = kernels::packed_qs_bytes(*kind, w.rows, w.cols), meta_bytes = kernels::packed_meta_bytes(*kind, w.rows, w.cols);
    const size_t total = (qs_bytes + meta_bytes + 63) / 64 * 64;
    std::shared_ptr<void> buf = allocate_large(total);
    auto* qs = static_cast<uint8_t*>(buf.get());
    uint8_t* meta = qs + qs_bytes;
    const void* src = w.data;
    parallel_for(w.rows, [&](int64_t r0, int64_t r1) { kernels::pack_rows(*kind, src, w.cols, r0, r1, qs, meta); });
    release_pages(src, kernels::ggml_row_size(w.type, w.cols) * size_t(w.rows));
    m.owners.push_back(buf);
    const void* key = w.data;
    w.data = qs;
    w.packed_meta = meta;
    done[key] = w;
    report.matrices++;
    report.bytes += qs_bytes + meta_bytes;
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
