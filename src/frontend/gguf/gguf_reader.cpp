#include "frontend/gguf/gguf_reader.h"

#include <cstring>

#include "core/error.h"
#include "pareto/limits.hpp"
#include "kernels/quant_formats.h"

namespace pareto::gguf {

namespace {

constexpr uint64_t kMaxDims = 4;

class Cursor {
 public:
  Cursor(const uint8_t* base, size_t size, std::string name) : base_(base), size_(size), name_(std::move(name)) {}
  size_t pos() const { return pos_; }
  size_t left() const { return size_ - pos_; }
  [[noreturn]] void fail(const std::string& what) const { fail_model(where() + ": " + what); }
  std::string where() const { return name_ + ": offset " + std::to_string(pos_); }
  template <class T>
  T read(const char* what) {
    if (left() < sizeof(T)) fail(std::string("truncated while reading ") + what);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    if (n > left()) fail(std::string(what) + ": string length " + std::to_string(n) + " runs past the end of the file");
    std::string s(reinterpret_cast<const char*>(base_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }

 private:
  const uint8_t* base_;
  size_t size_;
  size_t pos_ = 0;
  std::string name_;
};

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::u8: case ValueType::i8: case ValueType::boolean: return 1;
    case ValueType::u16: case ValueType::i16: return 2;
    case ValueType::u32: case ValueType::i32: case ValueType::f32: return 4;
    case ValueType::u64: case ValueType::i64: case ValueType::f64: return 8;
    default: return 0;
  }
}

void read_scalar(Cursor& c, ValueType t, int64_t& i, double& f, const char* what) {
  switch (t) {
    case ValueType::u8: i = c.read<uint8_t>(what); break;
    case ValueType::i8: i = c.read<int8_t>(what); break;
    case ValueType::u16: i = c.read<uint16_t>(what); break;
    case ValueType::i16: i = c.read<int16_t>(what); break;
    case ValueType::u32: i = c.read<uint32_t>(what); break;
    case ValueType::i32: i = c.read<int32_t>(what); break;
    case ValueType::u64: i = int64_t(c.read<uint64_t>(what)); break;
    case ValueType::i64: i = c.read<int64_t>(what); break;
    case ValueType::boolean: i = c.read<uint8_t>(what) != 0; break;
    case ValueType::f32: f = c.read<float>(what); break;
    case ValueType::f64: f = c.read<double>(what); break;
    default: c.fail(std::string(what) + ": not a scalar type");
  }
  if (t != ValueType::f32 && t != ValueType::f64) f = double(i);
}

Value read_value(Cursor& c, ValueType t, const std::string& key) {
  Value v;
  v.type = t;
  if (uint32_t(t) > 12) c.fail("key '" + key + "': unknown value type " + std::to_string(uint32_t(t)));
  if (t == ValueType::string) {
    v.s = c.string(key.c_str());
  } else if (t == ValueType::array) {
    v.elem_type = ValueType(c.read<uint32_t>("array type"));
    v.count = c.read<uint64_t>("array length");
    if (uint32_t(v.elem_type) > 12 || v.elem_type == ValueType::array)
      c.fail("key '" + key + "': unsupported array element type " + std::to_string(uint32_t(v.elem_type)));
    // Each element takes at least one byte (strings at least eight), so a
    // count beyond the bytes left is a lie: refuse it before allocating.
    size_t min_size = v.elem_type == ValueType::string ? 8 : scalar_size(v.elem_type);
    if (v.count > c.left() / min_size)
      c.fail("key '" + key + "': array of " + std::to_string(v.count) + " elements runs past the end of the file");
    // In memory an element takes more than in the file (a string object for
    // an 8-byte empty string): charged against the tensor-bytes limit.
    const bool floats = v.elem_type == ValueType::f32 || v.elem_type == ValueType::f64;
    const uint64_t per_element = v.elem_type == ValueType::string ? sizeof(std::string) : 8;
    check_limit(c.where() + ": key '" + key + "': array of " + std::to_string(v.count) + " elements (bytes in memory)", v.count * per_element,
                "tensor-bytes");
    if (v.elem_type == ValueType::string) {
      v.strs.reserve(size_t(v.count));
      for (uint64_t k = 0; k < v.count; ++k) v.strs.push_back(c.string(key.c_str()));
    } else {
      (floats ? v.nums.reserve(size_t(v.count)) : v.ints.reserve(size_t(v.count)));
      for (uint64_t k = 0; k < v.count; ++k) {
        int64_t i = 0;
        double f = 0;
        read_scalar(c, v.elem_type, i, f, key.c_str());
        if (floats) v.nums.push_back(f);
        else v.ints.push_back(i);
      }
    }
  } else {
    read_scalar(c, t, v.i, v.f, key.c_str());
  }
  return v;
}

}  // namespace

const char* value_type_name(ValueType t) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
  return uint32_t(t) < 13 ? names[uint32_t(t)] : "?";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  return n;
}

std::shared_ptr<File> File::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  return parse(mapped->data(), mapped->size(), path, mapped);
}

std::shared_ptr<File> File::parse(const uint8_t* data, size_t size, const std::string& name, std::shared_ptr<const void> owner) {
  auto f = std::make_shared<File>();
  f->path = name;
  f->owner_ = std::move(owner);
  Cursor c(data, size, name);
  uint32_t magic = c.read<uint32_t>("magic");
  if (magic != 0x46554747u) c.fail("bad magic (not a GGUF file)");
  f->version = c.read<uint32_t>("version");
  if (f->version != 2 && f->version != 3) c.fail("GGUF version " + std::to_string(f->version) + " (pareto reads 2 and 3)");
  uint64_t n_tensors = c.read<uint64_t>("tensor count");
  uint64_t n_kv = c.read<uint64_t>("metadata count");
  // Each kv takes >= 12 bytes and each tensor info >= 24: bound the counts by the file.
  if (n_kv > c.left() / 12) c.fail("metadata count " + std::to_string(n_kv) + " exceeds what the file can hold");
  if (n_tensors > c.left() / 24) c.fail("tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.string("metadata key");
    ValueType t = ValueType(c.read<uint32_t>("value type"));
    Value v = read_value(c, t, key);
    if (f->kv_index_.count(key)) c.fail("duplicate metadata key '" + key + "'");
    f->kv_index_[key] = f->kv.size();
    f->kv.emplace_back(key, std::move(v));
  }
  if (const Value* a = f->find("general.alignment")) {
    if (a->type != ValueType::u32 || a->i == 0 || (a->i & (a->i - 1))) c.fail("general.alignment must be a power of two u32");
    // Weights are used in place as float/half arrays: they must sit on element
    // boundaries (llama.cpp writes 32; nothing writes less than 8).
    if (a->i < 8) c.fail("general.alignment " + std::to_string(a->i) + " is below 8 (tensors would be misaligned for their elements)");
    f->alignment = uint64_t(a->i);
  }
  for (uint64_t k = 0; k < n_tensors; ++k) {
    TensorInfo t;
    t.name = c.string("tensor name");
    uint32_t n_dims = c.read<uint32_t>("n_dims");
    if (n_dims == 0 || n_dims > kMaxDims) c.fail("tensor '" + t.name + "': n_dims " + std::to_string(n_dims) + " (1 to 4 allowed)");
    int64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t ne = c.read<uint64_t>("tensor dim");
      if (ne == 0 || ne > uint64_t(INT64_MAX) || (n > 0 && ne > uint64_t(INT64_MAX / n)))
        c.fail("tensor '" + t.name + "': dims overflow or are zero");
      t.ne.push_back(int64_t(ne));
      n *= int64_t(ne);
    }
    t.type = c.read<uint32_t>("tensor type");
    t.offset = c.read<uint64_t>("tensor offset");
    const kernels::GgmlTypeTraits& tr = kernels::ggml_type_traits(t.type);
    if (!tr.name) c.fail("tensor '" + t.name + "': unknown type id " + std::to_string(t.type));
    // pareto's group formats allow a short last group; GGML's types need whole blocks.
    const size_t row_bytes = kernels::ggml_row_size(t.type, t.ne[0]);
    if (!row_bytes)
      c.fail("tensor '" + t.name + "': row length " + std::to_string(t.ne[0]) + " does not fit type " + tr.name + " (block size " +
             std::to_string(tr.block_size) + ", rows up to 2^48)");
    if (row_bytes > uint64_t(INT64_MAX) / uint64_t(n / t.ne[0])) c.fail("tensor '" + t.name + "': size overflows");
    t.nbytes = row_bytes * size_t(n / t.ne[0]);
    if (t.offset % f->alignment) c.fail("tensor '" + t.name + "': offset " + std::to_string(t.offset) + " is not aligned");
    if (f->tensor_index_.count(t.name)) c.fail("duplicate tensor name '" + t.name + "'");
    f->tensor_index_[t.name] = f->tensors.size();
    f->tensors.push_back(std::move(t));
  }
  f->data_offset = (c.pos() + f->alignment - 1) / f->alignment * f->alignment;
  for (TensorInfo& t : f->tensors) {
    if (f->data_offset > size || t.offset > size - f->data_offset || t.nbytes > size - f->data_offset - t.offset)
      fail_model(name + ": tensor '" + t.name + "' data [" + std::to_string(f->data_offset + t.offset) + ", +" +
                 std::to_string(t.nbytes) + ") lies past the end of the file (" + std::to_string(size) + " bytes)");
    t.data = data + f->data_offset + t.offset;
  }
  return f;
}

const Value* File::find(const std::string& key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv[it->second].second;
}

const TensorInfo* File::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors[it->second];
}

std::string File::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (!v) fail_model(path + ": missing metadata key '" + key + "'");
  if (v->type != ValueType::string) fail_model(path + ": metadata key '" + key + "' is not a string");
  return v->s;
}

std::string File::get_string(const std::string& key, const std::string& def) const { return find(key) ? get_string(key) : def; }

int64_t File::get_int(const std::string& key) const {
  const Value* v = find(key);
  if (!v) fail_model(path + ": missing metadata key '" + key + "'");
  if (v->type == ValueType::string || v->type == ValueType::array || v->type == ValueType::f32 || v->type == ValueType::f64)
    fail_model(path + ": metadata key '" + key + "' is not an integer");
  return v->i;
}

int64_t File::get_int(const std::string& key, int64_t def) const { return find(key) ? get_int(key) : def; }

double File::get_float(const std::string& key, double def) const {
  const Value* v = find(key);
  if (!v) return def;
  if (v->type == ValueType::string || v->type == ValueType::array) fail_model(path + ": metadata key '" + key + "' is not a number");
  return v->f;
}

}  // namespace pareto::gguf
