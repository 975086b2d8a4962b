#include "gguf_mutator.h"

#include <cstring>

#include "fuzz_support.h"

namespace pareto::fuzz {

namespace {

class Walker {
 public:
  Walker(const uint8_t* d, size_t n, std::vector<GgufField>& out) : d_(d), n_(n), out_(out) {}

  bool number(int width, bool is_type, uint64_t& v) {
    if (n_ - pos_ < size_t(width)) return false;
    out_.push_back({pos_, width, is_type});
    v = 0;
    std::memcpy(&v, d_ + pos_, size_t(width));
    pos_ += size_t(width);
    return true;
  }
  bool skip(uint64_t bytes) {
    if (bytes > n_ - pos_) return false;
    pos_ += size_t(bytes);
    return true;
  }
  bool string() {
    uint64_t len = 0;
    return number(8, false, len) && skip(len);
  }
  // One value of `type`; arrays recurse once.
  bool value(uint64_t type) {
    static constexpr int kWidth[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == 8) return string();
    if (type == 9) {
      uint64_t elem = 0, count = 0;
      if (!number(4, true, elem) || !number(8, false, count)) return false;
      if (elem == 8) {
        for (uint64_t i = 0; i < count; ++i)
          if (!string()) return false;
        return true;
      }
      if (elem > 12 || elem == 9) return false;
      return count <= (n_ - pos_) && skip(count * uint64_t(kWidth[elem]));
    }
    if (type > 12) return false;
    // Scalar values are structure too (context_length, block_count, head
    // counts, alignment, token ids): recorded, not skipped.
    uint64_t v = 0;
    return kWidth[type] >= 4 ? number(kWidth[type], false, v) : skip(uint64_t(kWidth[type]));
  }

 private:
  const uint8_t* d_;
  size_t n_;
  size_t pos_ = 8;  // after magic and version
  std::vector<GgufField>& out_;
};

}  // namespace

std::vector<GgufField> gguf_fields(const uint8_t* data, size_t size) {
  std::vector<GgufField> out;
  if (size < 8) return out;
  Walker w(data, size, out);
  uint64_t n_tensors = 0, n_kv = 0;
  if (!w.number(8, false, n_tensors) || !w.number(8, false, n_kv)) return out;
  for (uint64_t i = 0; i < n_kv; ++i) {
    uint64_t type = 0;
    if (!w.string() || !w.number(4, true, type) || !w.value(type)) return out;
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    uint64_t rank = 0, dim = 0, type = 0, offset = 0;
    if (!w.string() || !w.number(4, false, rank) || rank > 8) return out;
    for (uint64_t r = 0; r < rank; ++r)
      if (!w.number(8, false, dim)) return out;
    if (!w.number(4, true, type) || !w.number(8, false, offset)) return out;
  }
  return out;
}

bool mutate_gguf(uint8_t* data, size_t size, std::mt19937_64& rng) {
  const std::vector<GgufField> fields = gguf_fields(data, size);
  if (fields.empty()) return false;
  const GgufField& f = fields[rng() % fields.size()];
  uint64_t v = 0;
  std::memcpy(&v, data + f.offset, size_t(f.width));
  v = f.is_type && rng() % 2 ? rng() % 48 : interesting_u64(rng, v);
  std::memcpy(data + f.offset, &v, size_t(f.width));  // little-endian: the low bytes
  return true;
}

}  // namespace pareto::fuzz
