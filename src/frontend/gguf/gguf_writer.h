// GGUF v3 writer: metadata in insertion order, tensors aligned to
// general.alignment (32 unless set).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "frontend/gguf/gguf_reader.h"

namespace pareto::gguf {

class Writer {
 public:
  void set_string(const std::string& key, const std::string& v);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  // Copies any value read from another file (arrays included).
  void set_value(const std::string& key, const Value& v);
  // `data` must hold ggml_row_size(type, ne[0]) * rows bytes.
  void add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne, const void* data, size_t nbytes);

  // A tensor whose bytes are produced only while writing (one at a time), for
  // models too large to hold twice in memory.
  void add_tensor_generated(const std::string& name, uint32_t type, const std::vector<int64_t>& ne,
                            std::function<std::string()> produce);

  std::string to_bytes() const;
  // Writes to `path` (via a temporary file renamed into place).
  void write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    uint32_t type;
    std::vector<int64_t> ne;
    std::string bytes;
    size_t nbytes = 0;
    std::function<std::string()> produce;
  };
  std::string header() const;
  void put_kv(const std::string& key, uint32_t type, const std::string& payload);
  std::vector<std::pair<std::string, std::string>> kv_;  // key -> encoded type + value
  std::vector<Tensor> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace pareto::gguf
