// Per-thread scratch that only grows: a fresh multi-megabyte vector per
// call costs its zeroing and, above malloc's mmap threshold, page faults on
// every call (2.4 of 2.8 ms in one PP-OCR rec layer). Each (type, slot)
// pair is its own buffer, so a kernel may hold several at once; a pointer
// stays valid until the same thread asks the same pair for more.
#pragma once
#include <cstddef>
#include <vector>

namespace pareto::kernels {

// Slots in use: float 0 im2col / col2im columns and Winograd weights,
// float 1 depthwise padded planes, float 2 the bf16 and f16 convs' columns, float 3
// the pointwise kernel's input chunk, float 4 the 2x2 transposed conv's input rows, float 5 a depthwise plane
// rounded to uint8 afterwards, float 6 a depthwise input plane (or row) from uint8, float 7 an int8 conv's
// output row rounded to uint8 afterwards, float 8 an int8 conv's input on the uint8 grid as floats
// (runtime's fake_quantized_input), float 10 the direct stem conv's input rows split into stride phases; uint16_t 0 the bf16 or f16 panel; uint8_t 0 a float
// depthwise input plane rounded to uint8, uint8_t 1 an int8 MatMul's input row rounded,
// uint8_t 2 the integer depthwise conv's padded input rows, uint8_t 3 and 4 the int8 conv's
// VNNI panel and im2col rows, uint8_t 5 an int8 conv's input rounded to uint8 (runtime's
// quantize_input, held while the conv runs); int8_t 0 the
// int8 MatMul's signed rows; int32_t 0 its int32 tile, int32_t 1 and 2 its per-row and
// per-column corrections, int32_t 3 and 4 the int8 conv's tile sums and column sums,
// int32_t 5 its rows' zero-point corrections (the epilogue in registers); int64_t 0 the direct stem
// conv's held input rows, its Tap 0 the taps of one output row.
template <class T, int Slot>
T* thread_scratch(size_t n) {
  thread_local std::vector<T> buffer;
  if (buffer.size() < n) buffer.resize(n);
  return buffer.data();
}

}  // namespace pareto::kernels
