// Helpers shared by the op adapters: axis handling, broadcasting iteration,
// dtype dispatch.
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "core/tensor.h"
#include "runtime/executor.h"
#include "runtime/op_registry.h"

namespace pareto::runtime {

// Whether input i is a graph constant (weights) of a node run by an
// executor: what may be prepared once rather than on every call.
bool is_constant_input(const OpContext& ctx, size_t i);
// make() once per executor, node and stamp when input i is a constant
// (node_cache), else on every call.
std::shared_ptr<const void> prepared_once(const OpContext& ctx, size_t i, int stamp, const CacheMaker& make);

// Normalizes a possibly negative axis into [0, rank); error names the node.
int64_t normalize_axis(const OpContext& ctx, int64_t axis, int64_t rank);
int64_t normalize_axis(const ir::Node& node, int64_t axis, int64_t rank);

// Multidirectional (numpy) broadcast of shapes; error names the node.
Shape broadcast_shapes(const ir::Node& node, const Shape& a, const Shape& b);

// Row-major strides of `in` as seen from an output of shape `out` (0 where broadcast).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Calls fn(out_offset, in_offsets, count, in_steps) over contiguous runs of the
// output; input j advances by in_steps[j] per element of the run. With
// `parallel`, runs are split across the thread pool, so fn must only write
// the output elements it is given.
template <size_t K, class F>
void for_each_broadcast(const Shape& out, const std::array<const Shape*, K>& ins, F&& fn, bool parallel = false) {
  size_t rank = out.size();
  std::vector<std::array<int64_t, K>> strides(rank);
  for (size_t j = 0; j < K; ++j) {
    std::vector<int64_t> s = broadcast_strides(*ins[j], out);
    for (size_t d = 0; d < rank; ++d) strides[d][j] = s[d];
  }
  // Coalesce dims that are contiguous for every operand.
  Shape dims;
  std::vector<std::array<int64_t, K>> st;
  for (size_t d = 0; d < rank; ++d) {
    if (out[d] == 1) continue;
    if (!dims.empty()) {
      bool merge = true;
      for (size_t j = 0; j < K; ++j)
        if (st.back()[j] != strides[d][j] * out[d]) merge = false;
      if (merge) {
        dims.back() *= out[d];
        st.back() = strides[d];
        continue;
      }
    }
    dims.push_back(out[d]);
    st.push_back(strides[d]);
  }
  int64_t total = shape_numel(out);
  if (total == 0) return;
  if (dims.empty()) {
    std::array<int64_t, K> zero{};
    fn(0, zero, 1, zero);
    return;
  }
  size_t r = dims.size();
  int64_t inner = dims[r - 1], runs = total / inner;
  std::array<int64_t, K> step = st[r - 1];
  auto run_range = [&](int64_t first, int64_t last) {
    // Offsets of run `first`, then odometer increments.
    std::vector<int64_t> counter(r, 0);
    std::array<int64_t, K> off{};
    int64_t rem = first;
    for (size_t d = r - 1; d-- > 0;) {
      counter[d] = rem % dims[d];
      rem /= dims[d];
      for (size_t j = 0; j < K; ++j) off[j] += counter[d] * st[d][j];
    }
    for (int64_t run = first; run < last; ++run) {
      fn(run * inner, off, inner, step);
      for (size_t d = r - 1; d-- > 0;) {
        ++counter[d];
        for (size_t j = 0; j < K; ++j) off[j] += st[d][j];
        if (counter[d] < dims[d]) break;
        for (size_t j = 0; j < K; ++j) off[j] -= st[d][j] * dims[d];
        counter[d] = 0;
      }
    }
  };
  constexpr int64_t kParallelMin = int64_t(1) << 15;
  if (!parallel || total < kParallelMin || num_threads() <= 1) {
    run_range(0, runs);
  } else if (runs >= num_threads()) {
    parallel_for(runs, run_range);
  } else {
    // Few long runs: split each run itself.
    for (int64_t run = 0; run < runs; ++run) {
      int64_t rem = run;
      std::array<int64_t, K> off{};
      for (size_t d = r - 1; d-- > 0;) {
        int64_t c = rem % dims[d];
        rem /= dims[d];
        for (size_t j = 0; j < K; ++j) off[j] += c * st[d][j];
      }
      parallel_for(inner, [&](int64_t b, int64_t e) {
        std::array<int64_t, K> o = off;
        for (size_t j = 0; j < K; ++j) o[j] += b * step[j];
        fn(run * inner + b, o, e - b, step);
      });
    }
  }
}

// Elementwise loops over [0, n): split across threads when n is large.
template <class F>
void parallel_chunks(int64_t n, F&& fn) {
  if (n < (int64_t(1) << 15) || num_threads() <= 1) {
    fn(int64_t(0), n);
    return;
  }
  parallel_for(n, fn);
}

// Work over `planes` NCHW planes of `rows` rows (`row_values` each): with
// T threads, thread t starts on the t-th band of rows of every plane (tasks
// band-major, parallel_for_balanced: its own share first, then pieces of
// the others' once its own is done). The convolutions cut each plane's pixels
// the same way, so a thread mostly reads rows its own core wrote; cutting
// by planes made every thread read half its input from the other core's
// cache (PP-OCR det: 2 threads near 1.2x of one). fn(plane, row_begin, row_end).
template <class F>
void parallel_plane_bands(int64_t planes, int64_t rows, int64_t row_values, F&& fn) {
  const int64_t total = planes * rows * row_values;
  if (total < (int64_t(1) << 15) || num_threads() <= 1) {
    for (int64_t p = 0; p < planes; ++p) fn(p, int64_t(0), rows);
    return;
  }
  const int64_t bands = std::min<int64_t>(rows, num_threads());
  parallel_for_balanced(bands * planes, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t band = t / planes;
      fn(t % planes, band * rows / bands, (band + 1) * rows / bands);
    }
  });
}

// An elementwise loop over a tensor's n values, fn(begin, end): a 4-D
// (NCHW) tensor in bands of rows (parallel_plane_bands, as the convolutions
// around it split their pixels), anything else in contiguous chunks.
template <class F>
void parallel_elementwise(const Shape& shape, int64_t n, F&& fn) {
  if (shape.size() != 4 || n < (int64_t(1) << 15) || num_threads() <= 1) return parallel_chunks(n, fn);
  const int64_t h = shape[2], w = shape[3];
  parallel_plane_bands(shape[0] * shape[1], h, w, [&](int64_t plane, int64_t r0, int64_t r1) { fn((plane * h + r0) * w, (plane * h + r1) * w); });
}

// Input i as a list of ints (shape/axes/pads tensors).
std::vector<int64_t> input_ints(const OpContext& ctx, size_t i);

#define PARETO_DISPATCH_CASE(DT, T, ...) \
  case DT: {                             \
    using scalar_t = T;                  \
    __VA_ARGS__;                         \
    break;                               \
  }

// Float types only (f32, f64).
#define PARETO_DISPATCH_FLOAT(ctx, dtype, ...)                                                         \
  switch (dtype) {                                                                                     \
    PARETO_DISPATCH_CASE(DType::f32, float, __VA_ARGS__)                                               \
    PARETO_DISPATCH_CASE(DType::f64, double, __VA_ARGS__)                                              \
    default: (ctx).unsupported(std::string("element type ") + dtype_name(dtype));                      \
  }

// Numeric types (floats and integers).
#define PARETO_DISPATCH_NUMERIC(ctx, dtype, ...)                                                       \
  switch (dtype) {                                                                                     \
    PARETO_DISPATCH_CASE(DType::f32, float, __VA_ARGS__)                                               \
    PARETO_DISPATCH_CASE(DType::f64, double, __VA_ARGS__)                                              \
    PARETO_DISPATCH_CASE(DType::i64, int64_t, __VA_ARGS__)                                             \
    PARETO_DISPATCH_CASE(DType::i32, int32_t, __VA_ARGS__)                                             \
    PARETO_DISPATCH_CASE(DType::i16, int16_t, __VA_ARGS__)                                             \
    PARETO_DISPATCH_CASE(DType::i8, int8_t, __VA_ARGS__)                                               \
    PARETO_DISPATCH_CASE(DType::u8, uint8_t, __VA_ARGS__)                                              \
    PARETO_DISPATCH_CASE(DType::u16, uint16_t, __VA_ARGS__)                                            \
    PARETO_DISPATCH_CASE(DType::u32, uint32_t, __VA_ARGS__)                                            \
    PARETO_DISPATCH_CASE(DType::u64, uint64_t, __VA_ARGS__)                                            \
    default: (ctx).unsupported(std::string("element type ") + dtype_name(dtype));                      \
  }

// Any fixed-size type, by element width: for data movement ops.
#define PARETO_DISPATCH_BYTES(ctx, dtype, ...)                                                         \
  switch (dtype_size(dtype)) {                                                                         \
    PARETO_DISPATCH_CASE(1, uint8_t, __VA_ARGS__)                                                      \
    PARETO_DISPATCH_CASE(2, uint16_t, __VA_ARGS__)                                                     \
    PARETO_DISPATCH_CASE(4, uint32_t, __VA_ARGS__)                                                     \
    PARETO_DISPATCH_CASE(8, uint64_t, __VA_ARGS__)                                                     \
    default: (ctx).unsupported(std::string("element type ") + dtype_name(dtype));                      \
  }

// Infer helpers.
void infer_same_as_input(InferContext& ctx);
void infer_broadcast(InferContext& ctx);

}  // namespace pareto::runtime
