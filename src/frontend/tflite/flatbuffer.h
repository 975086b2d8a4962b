// A bounds-checked reader of FlatBuffers tables, vectors and strings: the
// container format of TFLite files.
//
// Why our own instead of Debian's flatbuffers: no Debian package carries the
// TFLite schema, and the accessors flatc generates trust every offset unless
// a Verifier walks the whole file first; this frontend reads a dozen tables,
// and reading them here checks each offset where it is followed, with an
// error that names the file, what was being read and the byte offset.
// Nothing is followed recursively (the TFLite schema has fixed depth), so a
// cyclic or self-referencing file cannot loop.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace pareto::tflite {

class FlatFile {
 public:
  FlatFile(const uint8_t* data, size_t size, std::string name) : data_(data), size_(size), name_(std::move(name)) {}
  [[noreturn]] void fail(size_t offset, const std::string& what) const;
  // n bytes at offset, all inside the file.
  void need(size_t offset, size_t n, const char* what) const;
  template <class T>
  T read(size_t offset, const char* what) const {
    need(offset, sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + offset, sizeof(T));
    return v;
  }
  // The target of the unsigned offset stored at `offset`.
  size_t follow(size_t offset, const char* what) const;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }

 private:
  const uint8_t* data_;
  size_t size_;
  std::string name_;
};

class Table;

// A vector of scalars, tables or strings; elements are read by index.
class FlatVector {
 public:
  FlatVector() = default;
  FlatVector(const FlatFile* f, size_t at, uint32_t count) : f_(f), at_(at), count_(count) {}
  uint32_t size() const { return count_; }
  // Where the elements start (element i of size s is at start() + i * s).
  size_t start() const { return at_; }
  template <class T>
  T scalar(uint32_t i, const char* what) const {
    return f_->read<T>(at_ + size_t(i) * sizeof(T), what);
  }
  Table table(uint32_t i, const char* what) const;
  std::string string(uint32_t i, const char* what) const;

 private:
  const FlatFile* f_ = nullptr;
  size_t at_ = 0;
  uint32_t count_ = 0;
};

class Table {
 public:
  Table() = default;
  // The table at `pos` (checked: its vtable and object lie inside the file).
  Table(const FlatFile* f, size_t pos, const char* what);
  bool valid() const { return f_ != nullptr; }
  size_t offset() const { return pos_; }
  bool has(int field) const { return field_offset(field) != 0; }
  template <class T>
  T scalar(int field, T fallback, const char* what) const {
    const size_t o = field_offset(field);
    if (o == 0) return fallback;
    if (o + sizeof(T) > object_size_) f_->fail(pos_ + o, std::string(what) + ": field lies outside its table");
    return f_->read<T>(pos_ + o, what);
  }
  // A sub-table; invalid() when the field is absent.
  Table table(int field, const char* what) const;
  // A vector with elements of `element_size` bytes; empty when absent.
  FlatVector vector(int field, size_t element_size, const char* what) const;
  std::string string(int field, const char* what) const;

 private:
  // Offset of the field inside the object, 0 when absent.
  size_t field_offset(int field) const;
  size_t reference(int field, const char* what) const;  // target of an offset field, 0 when absent

  const FlatFile* f_ = nullptr;
  size_t pos_ = 0, vtable_ = 0;
  uint16_t vtable_size_ = 0, object_size_ = 0;
};

// The root table of a FlatBuffers file, checked against the file identifier.
Table root_table(const FlatFile& f, const char identifier[4]);

}  // namespace pareto::tflite
