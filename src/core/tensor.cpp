#include "core/tensor.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>

#include "core/buffer_cache.h"
#include "core/checked.h"
#include "core/error.h"
#include "pareto/limits.hpp"

namespace pareto {


void check_declared_shape(const Shape& dims, const std::string& what) {
  std::optional<uint64_t> n = 1;
  for (int64_t d : dims)
    if (d >= 0 && n) n = checked_mul(*n, uint64_t(d));
  if (!n) fail_model(what + " declares shape " + shape_to_string(dims) + ", whose element count overflows 64 bits");
  check_limit(what + " declares shape " + shape_to_string(dims) + " (elements)", *n, "tensor-elements");
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail_model("negative or unknown dimension in shape " + shape_to_string(shape));
    if (d != 0 && n > INT64_MAX / d) fail_model("element count overflows in shape " + shape_to_string(shape));
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i] < 0 ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor Tensor::empty(DType dtype, Shape shape) {
  size_t esize = dtype_size(dtype);
  if (esize == 0) fail_unsupported(std::string("tensors of type ") + dtype_name(dtype) + " are not supported");
  int64_t n = shape_numel(shape);
  const std::string what = std::string("a ") + dtype_name(dtype) + " tensor of shape " + shape_to_string(shape);
  check_limit(what, uint64_t(n), "tensor-elements");
  if (uint64_t(n) > UINT64_MAX / esize) fail(StatusCode::out_of_memory, what + ": byte size overflows");
  check_limit(what, uint64_t(n) * esize, "tensor-bytes");
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = n;
  if (size_t(n) * esize > SIZE_MAX - 4096) fail(StatusCode::out_of_memory, what + ": byte size overflows");
  size_t bytes = (size_t(n) * esize + 63) & ~size_t(63);
  if (bytes == 0) bytes = 64;
  void* p = acquire_buffer(bytes);
  if (!p) fail(StatusCode::out_of_memory, "cannot allocate " + std::to_string(bytes) + " bytes");
  t.owner_ = std::shared_ptr<const void>(p, [bytes](const void* q) { release_buffer(const_cast<void*>(q), bytes); });
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(DType dtype, Shape shape) {
  Tensor t = empty(dtype, std::move(shape));
  std::memset(t.raw(), 0, t.nbytes());
  return t;
}

Tensor Tensor::wrap(DType dtype, Shape shape, std::shared_ptr<const void> owner, const void* data) {
  Tensor t;
  t.dtype_ = dtype;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  t.owner_ = std::move(owner);
  t.data_ = data;
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_)
    fail_model("cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::bitcast(DType dtype) const {
  if (dtype_size(dtype) != dtype_size(dtype_)) fail(StatusCode::internal, "bitcast between types of different size");
  Tensor t = *this;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), data_, nbytes());
  return t;
}

void Tensor::check_type(DType want) const {
  if (dtype_ != want)
    fail(StatusCode::internal, std::string("tensor is ") + dtype_name(dtype_) + ", accessed as " + dtype_name(want));
}

// Element reads are bounds-checked: operators read scalars (k, depth, axis,
// trip counts) from inputs a hostile model may leave empty.
static void check_element(int64_t i, int64_t numel) {
  if (i < 0 || i >= numel)
    fail_model("element " + std::to_string(i) + " read from a tensor of " + std::to_string(numel) + " elements");
}

double Tensor::as_double(int64_t i) const {
  check_element(i, numel_);
  const void* p = data_;
  switch (dtype_) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::f16: return half_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::bf16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::i64: return double(static_cast<const int64_t*>(p)[i]);
    case DType::i32: return static_cast<const int32_t*>(p)[i];
    case DType::i16: return static_cast<const int16_t*>(p)[i];
    case DType::i8: return static_cast<const int8_t*>(p)[i];
    case DType::u8: return static_cast<const uint8_t*>(p)[i];
    case DType::u16: return static_cast<const uint16_t*>(p)[i];
    case DType::u32: return static_cast<const uint32_t*>(p)[i];
    case DType::u64: return double(static_cast<const uint64_t*>(p)[i]);
    case DType::boolean: return static_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
    default: fail_unsupported(std::string("cannot read element of ") + dtype_name(dtype_));
  }
}

int64_t Tensor::as_int(int64_t i) const {
  check_element(i, numel_);
  switch (dtype_) {
    case DType::i64: return static_cast<const int64_t*>(data_)[i];
    case DType::i32: return static_cast<const int32_t*>(data_)[i];
    case DType::u64: return int64_t(static_cast<const uint64_t*>(data_)[i]);
    default: {
      // Saturating: NaN and values beyond int64 must not reach the conversion.
      const double d = as_double(i);
      if (!(d > -9.2e18)) return d > 0 ? INT64_MAX : INT64_MIN;  // NaN too
      return d >= 9.2e18 ? INT64_MAX : int64_t(d);
    }
  }
}

std::vector<int64_t> Tensor::to_int_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[size_t(i)] = as_int(i);
  return v;
}

std::vector<float> Tensor::to_float_vector() const {
  std::vector<float> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[size_t(i)] = float(as_double(i));
  return v;
}

}  // namespace pareto
