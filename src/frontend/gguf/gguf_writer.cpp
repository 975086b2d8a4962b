#include "frontend/gguf/gguf_writer.h"

#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "kernels/quant_formats.h"

namespace pareto::gguf {

namespace {

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

}  // namespace

void Writer::put_kv(const std::string& key, uint32_t type, const std::string& payload) {
  std::string enc;
  put<uint32_t>(enc, type);
  enc += payload;
  for (auto& [k, v] : kv_)
    if (k == key) {
      v = enc;
      return;
    }
  kv_.emplace_back(key, enc);
}

void Writer::set_string(const std::string& key, const std::string& v) {
  std::string p;
  put_str(p, v);
  put_kv(key, uint32_t(ValueType::string), p);
}

void Writer::set_u32(const std::string& key, uint32_t v) {
  std::string p;
  put<uint32_t>(p, v);
  put_kv(key, uint32_t(ValueType::u32), p);
  if (key == "general.alignment") alignment_ = v ? v : 32;
}

void Writer::set_i32(const std::string& key, int32_t v) {
  std::string p;
  put<int32_t>(p, v);
  put_kv(key, uint32_t(ValueType::i32), p);
}

void Writer::set_f32(const std::string& key, float v) {
  std::string p;
  put<float>(p, v);
  put_kv(key, uint32_t(ValueType::f32), p);
}

void Writer::set_bool(const std::string& key, bool v) {
  std::string p;
  put<uint8_t>(p, v ? 1 : 0);
  put_kv(key, uint32_t(ValueType::boolean), p);
}

void Writer::set_strings(const std::string& key, const std::vector<std::string>& v) {
  std::string p;
  put<uint32_t>(p, uint32_t(ValueType::string));
  put<uint64_t>(p, v.size());
  for (const auto& s : v) put_str(p, s);
  put_kv(key, uint32_t(ValueType::array), p);
}

void Writer::set_f32s(const std::string& key, const std::vector<float>& v) {
  std::string p;
  put<uint32_t>(p, uint32_t(ValueType::f32));
  put<uint64_t>(p, v.size());
  for (float x : v) put<float>(p, x);
  put_kv(key, uint32_t(ValueType::array), p);
}

void Writer::set_i32s(const std::string& key, const std::vector<int32_t>& v) {
  std::string p;
  put<uint32_t>(p, uint32_t(ValueType::i32));
  put<uint64_t>(p, v.size());
  for (int32_t x : v) put<int32_t>(p, x);
  put_kv(key, uint32_t(ValueType::array), p);
}

void Writer::set_value(const std::string& key, const Value& v) {
  auto scalar = [](std::string& p, ValueType t, int64_t i, double f) {
    switch (t) {
      case ValueType::u8: case ValueType::boolean: put<uint8_t>(p, uint8_t(i)); break;
      case ValueType::i8: put<int8_t>(p, int8_t(i)); break;
      case ValueType::u16: put<uint16_t>(p, uint16_t(i)); break;
      case ValueType::i16: put<int16_t>(p, int16_t(i)); break;
      case ValueType::u32: put<uint32_t>(p, uint32_t(i)); break;
      case ValueType::i32: put<int32_t>(p, int32_t(i)); break;
      case ValueType::u64: put<uint64_t>(p, uint64_t(i)); break;
      case ValueType::i64: put<int64_t>(p, i); break;
      case ValueType::f32: put<float>(p, float(f)); break;
      case ValueType::f64: put<double>(p, f); break;
      default: break;
    }
  };
  std::string p;
  if (v.type == ValueType::string) {
    put_str(p, v.s);
  } else if (v.type == ValueType::array) {
    put<uint32_t>(p, uint32_t(v.elem_type));
    put<uint64_t>(p, v.count);
    for (uint64_t k = 0; k < v.count; ++k) {
      if (v.elem_type == ValueType::string) put_str(p, v.strs[size_t(k)]);
      else if (v.nums.empty()) scalar(p, v.elem_type, v.ints[size_t(k)], 0.0);
      else scalar(p, v.elem_type, 0, v.nums[size_t(k)]);
    }
  } else {
    scalar(p, v.type, v.i, v.f);
  }
  put_kv(key, uint32_t(v.type), p);
  if (key == "general.alignment" && v.i > 0) alignment_ = uint64_t(v.i);
}

void Writer::add_tensor(const std::string& name, uint32_t type, const std::vector<int64_t>& ne, const void* data, size_t nbytes) {
  const kernels::GgmlTypeTraits& tr = kernels::ggml_type_traits(type);
  if (!tr.name) fail_argument("gguf writer: unknown tensor type " + std::to_string(type));
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (ne.empty() || ne.size() > 4 || !kernels::ggml_row_size(type, ne[0]) || kernels::ggml_row_size(type, ne[0]) * size_t(n / ne[0]) != nbytes)
    fail_argument("gguf writer: tensor '" + name + "' has " + std::to_string(nbytes) + " bytes for its shape and type");
  for (const Tensor& t : tensors_)
    if (t.name == name) fail_argument("gguf writer: duplicate tensor '" + name + "'");
  tensors_.push_back({name, type, ne, std::string(static_cast<const char*>(data), nbytes), nbytes, {}});
}

void Writer::add_tensor_generated(const std::string& name, uint32_t type, const std::vector<int64_t>& ne,
                                  std::function<std::string()> produce) {
  const kernels::GgmlTypeTraits& tr = kernels::ggml_type_traits(type);
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  if (!tr.name || ne.empty() || ne.size() > 4 || !kernels::ggml_row_size(type, ne[0]))
    fail_argument("gguf writer: tensor '" + name + "' shape does not fit its type");
  for (const Tensor& t : tensors_)
    if (t.name == name) fail_argument("gguf writer: duplicate tensor '" + name + "'");
  tensors_.push_back({name, type, ne, {}, kernels::ggml_row_size(type, ne[0]) * size_t(n / ne[0]), std::move(produce)});
}

std::string Writer::header() const {
  std::string out;
  put<uint32_t>(out, 0x46554747u);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [k, v] : kv_) {
    put_str(out, k);
    out += v;
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    put_str(out, t.name);
    put<uint32_t>(out, uint32_t(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(out, uint64_t(d));
    put<uint32_t>(out, t.type);
    put<uint64_t>(out, offset);
    offset += (t.nbytes + alignment_ - 1) / alignment_ * alignment_;
  }
  out.append((alignment_ - out.size() % alignment_) % alignment_, '\0');
  return out;
}

std::string Writer::to_bytes() const {
  std::string out = header();
  for (const Tensor& t : tensors_) {
    std::string bytes = t.produce ? t.produce() : t.bytes;
    if (bytes.size() != t.nbytes) fail(StatusCode::internal, "gguf writer: tensor '" + t.name + "' produced the wrong size");
    out += bytes;
    out.append((alignment_ - t.nbytes % alignment_) % alignment_, '\0');
  }
  return out;
}

void Writer::write(const std::string& path) const {
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(StatusCode::io_error, tmp + ": cannot create");
  // Tensors are produced and written one at a time.
  bool ok = true;
  auto emit = [&](const std::string& bytes) { ok = ok && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(); };
  emit(header());
  for (const Tensor& t : tensors_) {
    std::string bytes = t.produce ? t.produce() : t.bytes;
    if (bytes.size() != t.nbytes) ok = false;
    emit(bytes);
    emit(std::string((alignment_ - t.nbytes % alignment_) % alignment_, '\0'));
  }
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(StatusCode::io_error, path + ": write failed");
  }
}

}  // namespace pareto::gguf
