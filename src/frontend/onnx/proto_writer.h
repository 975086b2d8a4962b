// A protobuf wire-format encoder: the counterpart of wire_reader.h, for
// writing ONNX models (pareto's quantized models, tests' fixtures).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace pareto::onnx {

struct ProtoWriter {
  std::string bytes;
  ProtoWriter& varint_raw(uint64_t v) {
    while (v >= 0x80) {
      bytes += char(v | 0x80);
      v >>= 7;
    }
    bytes += char(v);
    return *this;
  }
  ProtoWriter& tag(uint32_t field, int wire) { return varint_raw(uint64_t(field) << 3 | unsigned(wire)); }
  ProtoWriter& i(uint32_t field, int64_t v) { return tag(field, 0).varint_raw(uint64_t(v)); }
  ProtoWriter& f(uint32_t field, float v) {
    tag(field, 5);
    char b[4];
    std::memcpy(b, &v, 4);
    bytes.append(b, 4);
    return *this;
  }
  ProtoWriter& s(uint32_t field, const std::string& v) { return s(field, v.data(), v.size()); }
  ProtoWriter& s(uint32_t field, const void* data, size_t size) {
    tag(field, 2).varint_raw(size);
    bytes.append(static_cast<const char*>(data), size);
    return *this;
  }
  ProtoWriter& m(uint32_t field, const ProtoWriter& v) { return s(field, v.bytes); }
};

}  // namespace pareto::onnx
