// A bounds-checked reader for the protobuf wire format. Every read checks
// the enclosing message's end, so a truncated or hostile file fails with
// the byte offset instead of reading past the buffer.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pareto::onnx {

enum WireType : int { wire_varint = 0, wire_fixed64 = 1, wire_bytes = 2, wire_fixed32 = 5 };

class WireReader {
 public:
  WireReader(const uint8_t* begin, const uint8_t* end, const uint8_t* base) : p_(begin), end_(end), base_(base) {}

  // Advances to the next field; false at the end of the message.
  bool next() {
    if (p_ >= end_) return false;
    size_t at = offset();
    uint64_t tag = read_varint();
    field_ = uint32_t(tag >> 3);
    wire_ = int(tag & 7);
    if (field_ == 0) fail_at(at, "field number 0");
    if (wire_ != wire_varint && wire_ != wire_fixed64 && wire_ != wire_bytes && wire_ != wire_fixed32)
      fail_at(at, "unsupported wire type " + std::to_string(wire_) + " for field " + std::to_string(field_));
    return true;
  }
  uint32_t field() const { return field_; }
  int wire() const { return wire_; }
  size_t offset() const { return size_t(p_ - base_); }

  uint64_t read_varint() {
    uint64_t v = 0;
    size_t at = offset();
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) fail_at(at, "truncated varint");
      uint8_t b = *p_++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail_at(at, "varint longer than 10 bytes");
  }
  int64_t read_int() {
    expect(wire_varint);
    return int64_t(read_varint());
  }
  float read_float() {
    expect(wire_fixed32);
    need(4);
    float f;
    std::memcpy(&f, p_, 4);
    p_ += 4;
    return f;
  }
  double read_double() {
    expect(wire_fixed64);
    need(8);
    double d;
    std::memcpy(&d, p_, 8);
    p_ += 8;
    return d;
  }
  std::string_view read_bytes() {
    expect(wire_bytes);
    size_t at = offset();
    uint64_t len = read_varint();
    if (len > uint64_t(end_ - p_))
      fail_at(at, "length " + std::to_string(len) + " runs past the end of the enclosing message (" +
                      std::to_string(end_ - p_) + " bytes left)");
    std::string_view s(reinterpret_cast<const char*>(p_), size_t(len));
    p_ += len;
    return s;
  }
  std::string read_string() { return std::string(read_bytes()); }
  WireReader read_message() {
    std::string_view s = read_bytes();
    const uint8_t* b = reinterpret_cast<const uint8_t*>(s.data());
    return WireReader(b, b + s.size(), base_);
  }
  // Repeated varint field, packed or not; calls fn(int64) per element.
  template <class F>
  void read_varints(F&& fn) {
    if (wire_ == wire_varint) {
      fn(int64_t(read_varint()));
      return;
    }
    WireReader r = read_message();
    while (r.p_ < r.end_) fn(int64_t(r.read_varint()));
  }
  // Repeated fixed-size field (float/double), packed or not.
  template <class T, class F>
  void read_fixed(F&& fn) {
    constexpr int want = sizeof(T) == 4 ? wire_fixed32 : wire_fixed64;
    if (wire_ == want) {
      need(sizeof(T));
      T v;
      std::memcpy(&v, p_, sizeof(T));
      p_ += sizeof(T);
      fn(v);
      return;
    }
    std::string_view s = read_bytes();
    if (s.size() % sizeof(T)) fail_at(offset(), "packed field size is not a multiple of the element size");
    for (size_t i = 0; i < s.size(); i += sizeof(T)) {
      T v;
      std::memcpy(&v, s.data() + i, sizeof(T));
      fn(v);
    }
  }
  void skip() {
    switch (wire_) {
      case wire_varint: read_varint(); break;
      case wire_fixed64: need(8); p_ += 8; break;
      case wire_fixed32: need(4); p_ += 4; break;
      case wire_bytes: read_bytes(); break;
      default: fail_at(offset(), "cannot skip wire type " + std::to_string(wire_));
    }
  }

  [[noreturn]] void fail_at(size_t at, const std::string& what) const {
    fail_model("offset " + std::to_string(at) + ": " + what);
  }

 private:
  void expect(int wire) {
    if (wire_ != wire)
      fail_at(offset(), "field " + std::to_string(field_) + " has wire type " + std::to_string(wire_) +
                            ", expected " + std::to_string(wire));
  }
  void need(size_t n) {
    if (size_t(end_ - p_) < n) fail_at(offset(), "truncated fixed-size field");
  }
  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* base_;
  uint32_t field_ = 0;
  int wire_ = 0;
};

}  // namespace pareto::onnx
