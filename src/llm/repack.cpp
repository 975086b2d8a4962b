#include "llm/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
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

using Done = std::map<const void*, kernels::WeightMatrix>;

constexpr size_t kReleaseBlockBytes = size_t(4) << 20;

// F16 / BF16 / F32 matrices keep their layout but move from the mapped
// file's 4 KiB pages into huge pages: decode streams every weight once per
// token, and on 4 KiB pages a TLB walk comes every 2048 F16 weights.
// Still one resident copy (the file's pages are released).
void move_float_matrix(kernels::WeightMatrix& w, Model& m, Done& done, RepackReport& report) {
  using kernels::GgmlType;
  if (w.type != uint32_t(GgmlType::f16) && w.type != uint32_t(GgmlType::bf16) && w.type != uint32_t(GgmlType::f32)) return;
  if (auto it = done.find(w.data); it != done.end()) {
    w = it->second;
    return;
  }
  const size_t bytes = kernels::ggml_row_size(w.type, w.cols) * size_t(w.rows);
  std::shared_ptr<void> buf = allocate_large((bytes + 63) / 64 * 64);
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* dst = static_cast<uint8_t*>(buf.get());
  const size_t row = kernels::ggml_row_size(w.type, w.cols);
  const int64_t block = std::max<int64_t>(1, int64_t(kReleaseBlockBytes / row));
  for (int64_t b0 = 0; b0 < w.rows; b0 += block) {
    const size_t at = size_t(b0) * row, n = size_t(std::min(w.rows, b0 + block) - b0) * row;
    std::memcpy(dst + at, src + at, n);
    release_pages(src + at, n);
  }
  m.owners.push_back(buf);
  const void* key = w.data;
  w.data = dst;
  done[key] = w;
  report.matrices++;
  report.bytes += bytes;
}

}  // namespace

RepackReport repack_for_cpu(Model& m) {
  RepackReport report;
  if (!kernels::packed_weights_preferred()) return report;
  const double t0 = now_seconds();
  Done done;  // tied matrices repack once
  auto repack = [&](kernels::WeightMatrix& w) {
    if (w.packed_meta || !w.data) return;
    if (!kernels::packable(w.type, w.cols)) return move_float_matrix(w, m, done, report);
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
    const auto* src = static_cast<const uint8_t*>(w.data);
    const size_t row_bytes = kernels::ggml_row_size(w.type, w.cols);
    // A few MiB of rows at a time, their file pages released right after, so
    // the peak resident set holds one matrix's packed copy plus one block of
    // its file pages, not both copies of the largest matrix.
    const int64_t block = std::max<int64_t>(1, int64_t(kReleaseBlockBytes / row_bytes));
    for (int64_t b0 = 0; b0 < w.rows; b0 += block) {
      const int64_t b1 = std::min(w.rows, b0 + block);
      parallel_for(b1 - b0, [&](int64_t r0, int64_t r1) { kernels::pack_rows(*kind, src, w.cols, b0 + r0, b0 + r1, qs, meta); });
      release_pages(src + size_t(b0) * row_bytes, size_t(b1 - b0) * row_bytes);
    }
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
