// A tensor is a dtype, a shape and a reference-counted byte buffer. Views
// (reshape, wrapping mmap'd or caller-owned memory) share the buffer.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pareto/dtype.h"

namespace pareto {

using Shape = std::vector<int64_t>;

// Number of elements; throws if a dim is negative or the product overflows.
int64_t shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);

// Tensor::empty refuses tensors above the tensor-bytes and tensor-elements
// limits in force (pareto/limits.hpp).

class Tensor {
 public:
  Tensor() = default;
  // Allocates uninitialized storage (64-byte aligned).
  static Tensor empty(DType dtype, Shape shape);
  static Tensor zeros(DType dtype, Shape shape);
  // Shares memory owned by `owner` (may be null when the caller guarantees lifetime).
  static Tensor wrap(DType dtype, Shape shape, std::shared_ptr<const void> owner, const void* data);
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, Shape shape);
  template <class T>
  static Tensor scalar(T value) { return from_vector<T>({value}, {}); }

  bool defined() const { return dtype_ != DType::undefined; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return int(shape_.size()); }
  int64_t dim(int i) const { return shape_[size_t(i)]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return size_t(numel_) * dtype_size(dtype_); }

  void* raw() { return const_cast<void*>(data_); }
  const void* raw() const { return data_; }
  template <class T> T* data() { check_type(DTypeOf<T>::value); return static_cast<T*>(raw()); }
  template <class T> const T* data() const { check_type(DTypeOf<T>::value); return static_cast<const T*>(data_); }

  // Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Same bytes viewed as another type of the same element size.
  Tensor bitcast(DType dtype) const;
  // Deep copy.
  Tensor clone() const;
  // Element i converted to double / int64 (for small shape and index tensors).
  double as_double(int64_t i) const;
  int64_t as_int(int64_t i) const;
  std::vector<int64_t> to_int_vector() const;
  std::vector<float> to_float_vector() const;

 private:
  void check_type(DType want) const;
  DType dtype_ = DType::undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<const void> owner_;
  const void* data_ = nullptr;
};

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, Shape shape) {
  Tensor t = empty(DTypeOf<T>::value, std::move(shape));
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size() && int64_t(i) < t.numel(); ++i) out[i] = values[i];
  return t;
}

}  // namespace pareto
