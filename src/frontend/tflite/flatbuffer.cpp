#include "frontend/tflite/flatbuffer.h"

#include "core/checked.h"
#include "core/error.h"

namespace pareto::tflite {

void FlatFile::fail(size_t offset, const std::string& what) const {
  fail_model(name_ + ": " + what + " (byte offset " + std::to_string(offset) + ")");
}

void FlatFile::need(size_t offset, size_t n, const char* what) const {
  if (offset > size_ || n > size_ - offset)
    fail(offset, std::string(what) + ": " + std::to_string(n) + " bytes past the end of the " + std::to_string(size_) + "-byte file");
}

size_t FlatFile::follow(size_t offset, const char* what) const {
  const uint32_t rel = read<uint32_t>(offset, what);
  const auto target = checked_add(offset, rel);
  if (!target || *target >= size_) fail(offset, std::string(what) + ": offset " + std::to_string(rel) + " points past the end of the file");
  return size_t(*target);
}

Table::Table(const FlatFile* f, size_t pos, const char* what) : f_(f), pos_(pos) {
  const int32_t back = f->read<int32_t>(pos, what);
  // The vtable sits at pos - back (signed: it may follow the object).
  const int64_t vt = int64_t(pos) - int64_t(back);
  if (vt < 0 || uint64_t(vt) > f->size()) f->fail(pos, std::string(what) + ": vtable offset " + std::to_string(back) + " points outside the file");
  vtable_ = size_t(vt);
  vtable_size_ = f->read<uint16_t>(vtable_, what);
  object_size_ = f->read<uint16_t>(vtable_ + 2, what);
  if (vtable_size_ < 4 || vtable_size_ % 2) f->fail(vtable_, std::string(what) + ": bad vtable size " + std::to_string(vtable_size_));
  f->need(vtable_, vtable_size_, what);
  if (object_size_ < 4) f->fail(vtable_, std::string(what) + ": bad table size " + std::to_string(object_size_));
  f->need(pos_, object_size_, what);
}

size_t Table::field_offset(int field) const {
  if (!f_ || field < 0) return 0;
  const size_t slot = 4 + 2 * size_t(field);
  if (slot + 2 > vtable_size_) return 0;  // written by an older schema: absent
  return f_->read<uint16_t>(vtable_ + slot, "vtable");
}

size_t Table::reference(int field, const char* what) const {
  const size_t o = field_offset(field);
  if (o == 0) return 0;
  if (o + 4 > object_size_) f_->fail(pos_ + o, std::string(what) + ": field lies outside its table");
  return f_->follow(pos_ + o, what);
}

Table Table::table(int field, const char* what) const {
  const size_t at = reference(field, what);
  return at ? Table(f_, at, what) : Table();
}

FlatVector Table::vector(int field, size_t element_size, const char* what) const {
  const size_t at = reference(field, what);
  if (!at) return {};
  const uint32_t count = f_->read<uint32_t>(at, what);
  // count < 2^32 and element_size <= 8: the product fits in 64 bits.
  f_->need(at + 4, size_t(count) * element_size, what);
  return FlatVector(f_, at + 4, count);
}

std::string Table::string(int field, const char* what) const {
  const size_t at = reference(field, what);
  if (!at) return "";
  const uint32_t n = f_->read<uint32_t>(at, what);
  f_->need(at + 4, n, what);
  return std::string(reinterpret_cast<const char*>(f_->data() + at + 4), n);
}

Table FlatVector::table(uint32_t i, const char* what) const {
  if (i >= count_) f_->fail(at_, std::string(what) + ": index " + std::to_string(i) + " past the vector's " + std::to_string(count_));
  return Table(f_, f_->follow(at_ + size_t(i) * 4, what), what);
}

std::string FlatVector::string(uint32_t i, const char* what) const {
  if (i >= count_) f_->fail(at_, std::string(what) + ": index " + std::to_string(i) + " past the vector's " + std::to_string(count_));
  const size_t at = f_->follow(at_ + size_t(i) * 4, what);
  const uint32_t n = f_->read<uint32_t>(at, what);
  f_->need(at + 4, n, what);
  return std::string(reinterpret_cast<const char*>(f_->data() + at + 4), n);
}

Table root_table(const FlatFile& f, const char identifier[4]) {
  f.need(0, 8, "file header");
  if (std::memcmp(f.data() + 4, identifier, 4) != 0)
    f.fail(4, std::string("not a FlatBuffers file with identifier '") + std::string(identifier, 4) + "'");
  return Table(&f, f.follow(0, "root table"), "model");
}

}  // namespace pareto::tflite
