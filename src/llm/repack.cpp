#include "llm/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
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

// A few MiB of rows at a time, their file pages released right after, so
// the peak resident set holds the new copy of a matrix plus one block of
// its file pages, not both copies of the largest matrix.
constexpr size_t kReleaseBlockBytes = size_t(4) << 20;
template <class Fn>
void copy_in_blocks(const kernels::WeightMatrix& w, bool release, Fn fn) {
  const auto* src = static_cast<const uint8_t*>(w.data);
  const size_t row_bytes = kernels::ggml_row_size(w.type, w.cols);
  const int64_t block = std::max<int64_t>(1, int64_t(kReleaseBlockBytes / row_bytes));
  for (int64_t b0 = 0; b0 < w.rows; b0 += block) {
    const int64_t b1 = std::min(w.rows, b0 + block);
    fn(b0, b1);
    if (release) release_pages(src + size_t(b0) * row_bytes, size_t(b1 - b0) * row_bytes);
  }
}

bool is_float_type(uint32_t type) {
  using kernels::GgmlType;
  return type == uint32_t(GgmlType::f16) || type == uint32_t(GgmlType::bf16) || type == uint32_t(GgmlType::f32);
}

// Packable types: the packed layout (kernels/packed_weights.h). Returns its bytes.
size_t pack_matrix(kernels::WeightMatrix& w, Model& m, bool release) {
  const kernels::PackedKind kind = *kernels::packed_kind_for(w.type);
  const size_t qs_bytes = kernels::packed_qs_bytes(kind, w.rows, w.cols), meta_bytes = kernels::packed_meta_bytes(kind, w.rows, w.cols);
  std::shared_ptr<void> buf = allocate_large((qs_bytes + meta_bytes + 63) / 64 * 64);
  auto* qs = static_cast<uint8_t*>(buf.get());
  uint8_t* meta = qs + qs_bytes;
  const void* src = w.data;
  copy_in_blocks(w, release, [&](int64_t b0, int64_t b1) {
    parallel_for(b1 - b0, [&](int64_t r0, int64_t r1) { kernels::pack_rows(kind, src, w.cols, b0 + r0, b0 + r1, qs, meta); });
  });
  m.owners.push_back(buf);
  w.data = qs;
  w.packed_meta = meta;
  return qs_bytes + meta_bytes;
}

// F16 / BF16 / F32 matrices keep their layout but move from the mapped
// file's 4 KiB pages into huge pages: decode streams every weight once per
// token, and on 4 KiB pages a TLB walk comes every 2048 F16 weights.
// Returns the bytes moved.
size_t move_float_matrix(kernels::WeightMatrix& w, Model& m, bool release) {
  const size_t row = kernels::ggml_row_size(w.type, w.cols), bytes = row * size_t(w.rows);
  std::shared_ptr<void> buf = allocate_large((bytes + 63) / 64 * 64);
  const auto* src = static_cast<const uint8_t*>(w.data);
  auto* dst = static_cast<uint8_t*>(buf.get());
  copy_in_blocks(w, release, [&](int64_t b0, int64_t b1) { std::memcpy(dst + size_t(b0) * row, src + size_t(b0) * row, size_t(b1 - b0) * row); });
  m.owners.push_back(buf);
  w.data = dst;
  return bytes;
}

}  // namespace

bool repack_matrix_for_cpu(Model& m, kernels::WeightMatrix& w, bool release_sources) {
  if (!kernels::packed_weights_preferred() || w.packed_meta || !w.data) return false;
  const bool pack = kernels::packable(w.type, w.cols) && kernels::packed_type_preferred(w.type);
  if (!pack && !is_float_type(w.type)) return false;
  if (pack) pack_matrix(w, m, release_sources);
  else move_float_matrix(w, m, release_sources);
  return true;
}

RepackReport repack_for_cpu(Model& m, bool release_sources) {
  RepackReport report;
  if (!kernels::packed_weights_preferred()) return report;
  const double t0 = now_seconds();
  std::map<const void*, kernels::WeightMatrix> done;  // tied matrices move once
  auto repack = [&](kernels::WeightMatrix& w) {
    if (w.packed_meta || !w.data) return;
    if (auto it = done.find(w.data); it != done.end()) {
      w = it->second;
      return;
    }
    const bool pack = kernels::packable(w.type, w.cols) && kernels::packed_type_preferred(w.type);
    if (!pack && !is_float_type(w.type)) return;
    const void* key = w.data;
    report.bytes += pack ? pack_matrix(w, m, release_sources) : move_float_matrix(w, m, release_sources);
    report.matrices++;
    done[key] = w;
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
