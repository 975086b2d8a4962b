// GGUF v2/v3 reader. The file is mmap'd and tensor data stays in its pages;
// every length, count and offset is checked against the file before use, so
// a truncated or hostile file fails with a message naming the key, tensor and
// byte offset.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/file.h"

namespace pareto::gguf {

enum class ValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
const char* value_type_name(ValueType t);

struct Value {
  ValueType type = ValueType::u8;
  ValueType elem_type = ValueType::u8;  // arrays
  // Scalars: integer types in i (u64 reinterpreted), floats in f, bool in i.
  int64_t i = 0;
  double f = 0;
  std::string s;
  // Arrays, stored once: floats in nums, integers and booleans in ints
  // (u64 reinterpreted), strings in strs. number(k) reads either as a double.
  std::vector<double> nums;
  std::vector<int64_t> ints;
  std::vector<std::string> strs;
  double number(size_t k) const { return nums.empty() ? double(ints[k]) : nums[k]; }
  uint64_t count = 0;
};

struct TensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // ggml order: ne[0] is the contiguous dimension
  uint32_t type = 0;
  uint64_t offset = 0;      // relative to the data section
  size_t nbytes = 0;
  const uint8_t* data = nullptr;
  int64_t numel() const;
};

class File {
 public:
  static std::shared_ptr<File> open(const std::string& path);
  // Parses a buffer already in memory (tests); `owner` keeps it alive.
  static std::shared_ptr<File> parse(const uint8_t* data, size_t size, const std::string& name,
                                     std::shared_ptr<const void> owner);

  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;
  std::string path;
  std::vector<std::pair<std::string, Value>> kv;  // file order
  std::vector<TensorInfo> tensors;

  const Value* find(const std::string& key) const;
  const TensorInfo* tensor(const std::string& name) const;
  // Typed getters; throw naming the key when missing (unless a default is given) or mistyped.
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key, double def) const;

 private:
  std::shared_ptr<const void> owner_;
  std::map<std::string, size_t> kv_index_, tensor_index_;
};

}  // namespace pareto::gguf
