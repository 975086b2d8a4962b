// A small persistent thread pool. parallel_for splits [0, n) into at most
// num_threads() contiguous chunks; the calling thread takes the first.
#pragma once
#include <cstdint>
#include <type_traits>

namespace pareto {

// A non-owning reference to a callable taking (begin, end). Unlike
// std::function it never allocates, so parallel regions on the per-token
// path cost no heap traffic. The callable must outlive the call.
class RangeFn {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  RangeFn(const F& f)  // NOLINT: implicit on purpose, callers pass lambdas
      : obj_(&f), call_([](const void* o, int64_t b, int64_t e) { (*static_cast<const F*>(o))(b, e); }) {}
  void operator()(int64_t b, int64_t e) const { call_(obj_, b, e); }

 private:
  const void* obj_;
  void (*call_)(const void*, int64_t, int64_t);
};

void set_num_threads(int n);
// True on a thread running a parallel_for chunk: parallel_for calls from it
// run inline, and it must not resize the pool (resizing joins the workers,
// this thread among them).
bool in_parallel_region();
int num_threads();
void parallel_for(int64_t n, RangeFn fn);

}  // namespace pareto
