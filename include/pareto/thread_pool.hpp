// Persistent thread pools. parallel_for splits [0, n) into at most
// num_threads() contiguous chunks on the pool current on the calling thread;
// the calling thread takes the first chunk.
//
// Each session owns a pool of its own width and makes it current around its
// work (PoolScope), so sessions with different thread counts run at the same
// time in one process without resizing each other's workers. Code outside a
// session (tools, tests) uses the default pool, sized by set_num_threads.
#pragma once
#include <cstdint>
#include <memory>
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

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int size() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  friend class PoolScope;
};

// Makes `pool` the one parallel_for and num_threads use on this thread until
// the scope ends; nullptr keeps the current one.
class PoolScope {
 public:
  explicit PoolScope(ThreadPool* pool);
  ~PoolScope();
  PoolScope(const PoolScope&) = delete;
  PoolScope& operator=(const PoolScope&) = delete;

 private:
  ThreadPool::Impl* saved_;
};

// Resizes the default pool (used where no PoolScope is active). Not for use
// while other threads run parallel regions on the default pool.
void set_num_threads(int n);
// True on a thread running a parallel_for chunk: parallel_for calls from it
// run inline, and it must not resize the pool (resizing joins the workers,
// this thread among them).
bool in_parallel_region();
// Width of the pool parallel_for uses on this thread.
int num_threads();
void parallel_for(int64_t n, RangeFn fn);
// The same, handing out one index at a time (fn(i, i + 1)) to whichever
// thread is free: for a few coarse tasks (conv tiles) on cores that do not
// run at the same speed (a shared VM, big.LITTLE), where equal contiguous
// chunks leave the fast thread waiting for the slow one.
void parallel_for_dynamic(int64_t n, RangeFn fn);
// The same contiguous chunks as parallel_for, each taken by its thread in a
// few pieces from the front; a thread done with its own takes half of what
// is left of another's from the back, again and again. So fn gets
// sub-ranges (any split of [0, n), each index once), each thread mostly
// its own chunk (the data its core touched in the op before), and a core
// slowed down (a busy neighbour on a shared VM, a LITTLE core) no longer
// holds up the region. For the convolutions' tiles and bands.
void parallel_for_balanced(int64_t n, RangeFn fn);

}  // namespace pareto
