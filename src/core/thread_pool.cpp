#include "core/thread_pool.h"

#include "core/cpu_topology.h"
#include "pareto/limits.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifdef PARETO_USE_OPENMP
#include <omp.h>
#endif

namespace pareto {

namespace {

// Set while a thread runs a parallel_for chunk: nested calls run inline
// instead of waiting for workers that are busy with the outer region.
thread_local bool t_in_parallel = false;

struct ParallelScope {
  bool saved = t_in_parallel;
  ParallelScope() { t_in_parallel = true; }
  ~ParallelScope() { t_in_parallel = saved; }
};

thread_local bool t_one_thread = false;  // an InlineScope is open on this thread

}  // namespace

InlineScope::InlineScope() : saved_(t_in_parallel), saved_one_(t_one_thread) { t_in_parallel = t_one_thread = true; }
InlineScope::~InlineScope() {
  t_in_parallel = saved_;
  t_one_thread = saved_one_;
}

struct ThreadPool::Impl {
  explicit Impl(int n) { resize(n); }
  ~Impl() { stop_workers(); }

  void resize(int n) {
    n = std::max(1, n);
    stop_workers();
    threads_ = n;
    const uint64_t start = generation_.load();  // workers wait for the next region, not ones already run
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, start] { worker(i, start); });
  }
  int size() const { return threads_; }

  enum class Split { kStatic, kDynamic, kBalanced };
  void run(int64_t n, const RangeFn& fn, Split split = Split::kStatic);

 private:
  int64_t chunk_begin(int i) const { return n_ * i / parts_; }
  int64_t chunk_end(int i) const { return n_ * (i + 1) / parts_; }
  void worker(int index, uint64_t seen);
  // Thread `index`'s share of the region: its contiguous chunk, (dynamic)
  // indices taken one at a time until none is left, or (balanced) its
  // chunk in a few pieces from the front, then pieces of the others' from
  // their backs.
  void run_share(int index) {
    if (split_ == Split::kDynamic) {
      for (int64_t i = next_.fetch_add(1, std::memory_order_relaxed); i < n_; i = next_.fetch_add(1, std::memory_order_relaxed)) (*fn_)(i, i + 1);
      return;
    }
    if (split_ == Split::kStatic) {
      (*fn_)(chunk_begin(index), chunk_end(index));
      return;
    }
    const int64_t step = std::max<int64_t>(1, (chunk_end(index) - chunk_begin(index)) / kOwnPieces);
    for (int64_t b, e; spans_[size_t(index)].take_front(step, &b, &e);) (*fn_)(b, e);
    for (int k = 1; k < parts_; ++k)
      for (int64_t b, e; spans_[size_t((index + k) % parts_)].take_back(&b, &e);) (*fn_)(b, e);
  }
  // What is left of one thread's chunk in a balanced region: the offsets of
  // its front and back from the chunk's begin, packed in one word so the
  // owner (from the front) and a thief (from the back) claim pieces by
  // compare-and-swap without a lock. Regions whose chunks reach 2^31
  // indices run static instead (run() sets split_ so).
  struct alignas(64) Span {
    std::atomic<uint64_t> left{0};
    int64_t begin = 0;
    void reset(int64_t b, int64_t e) {
      begin = b;
      left.store(uint64_t(e - b) << 32, std::memory_order_relaxed);
    }
    bool take_front(int64_t step, int64_t* b, int64_t* e) {
      uint64_t v = left.load(std::memory_order_relaxed);
      for (;;) {
        const int64_t front = int64_t(v & 0xFFFFFFFFu), back = int64_t(v >> 32);
        if (front >= back) return false;
        const int64_t end = std::min(back, front + step);
        if (left.compare_exchange_weak(v, (uint64_t(back) << 32) | uint64_t(end), std::memory_order_acq_rel)) {
          *b = begin + front;
          *e = begin + end;
          return true;
        }
      }
    }
    bool take_back(int64_t* b, int64_t* e) {  // half of what is left (at least one index)
      uint64_t v = left.load(std::memory_order_relaxed);
      for (;;) {
        const int64_t front = int64_t(v & 0xFFFFFFFFu), back = int64_t(v >> 32);
        if (front >= back) return false;
        const int64_t start = back - (back - front + 1) / 2;
        if (left.compare_exchange_weak(v, (uint64_t(start) << 32) | uint64_t(front), std::memory_order_acq_rel)) {
          *b = begin + start;
          *e = begin + back;
          return true;
        }
      }
    }
  };
  // Pieces a thread takes its own chunk in: few enough that a kernel's
  // per-call set-up stays small, enough that a faster thread finds work
  // left to take.
  static constexpr int64_t kOwnPieces = 4;
  void stop_workers();
  static void set_current(Impl* pool);

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
  }
  static constexpr int kSpin = 1 << 14;

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_, run_mutex_;
  std::condition_variable cv_, done_cv_;
  // The region being run: written before generation_ is bumped (release) and
  // read by workers after they see the bump (acquire). Every worker, taking
  // part or not, acknowledges each region before the next one is published,
  // so no worker can read one region's fields against another's generation.
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  Split split_ = Split::kStatic;
  std::vector<Span> spans_;  // balanced regions: one per part
  std::atomic<int64_t> next_{0};
  int parts_ = 0;
  const Limits* limits_ = nullptr;  // the caller's limits, in force in every chunk
  std::exception_ptr error_;        // the first exception a worker's chunk threw (guarded by mutex_)
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

void ThreadPool::Impl::run(int64_t n, const RangeFn& fn, Split split) {
  const int parts = int(std::min<int64_t>(threads_, n));
  if (parts <= 1 || t_in_parallel) {
    if (n > 0) fn(0, n);
    return;
  }
  std::unique_lock<std::mutex> run_lock(run_mutex_);  // one region at a time per pool
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    n_ = n;
    parts_ = parts;
    split_ = split;
    if (split == Split::kBalanced && n / parts >= (int64_t(1) << 31)) split_ = Split::kStatic;  // chunks too long for a Span
    if (split_ == Split::kBalanced) {
      if (spans_.size() < size_t(parts)) spans_ = std::vector<Span>(size_t(parts));
      for (int i = 0; i < parts; ++i) spans_[size_t(i)].reset(chunk_begin(i), chunk_end(i));
    }
    next_.store(0, std::memory_order_relaxed);
    limits_ = &current_limits();
    error_ = nullptr;
    pending_.store(threads_ - 1);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  // The caller's chunk may throw (a limit, a bad index): the workers still
  // use fn and this frame until they acknowledge, so wait before rethrowing.
  std::exception_ptr own;
  try {
    ParallelScope scope;
    run_share(0);
  } catch (...) {
    own = std::current_exception();
  }
  for (int i = 0; i < kSpin && pending_.load(std::memory_order_acquire) != 0; ++i) pause();
  if (pending_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return pending_.load() == 0; });
  }
  if (own) std::rethrow_exception(own);
  std::exception_ptr theirs;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::swap(theirs, error_);
  }
  if (theirs) std::rethrow_exception(theirs);
}

// Workers spin briefly before sleeping: a decode step opens a parallel
// region per matmul, and a futex wake-up per region costs more than the
// region's own work on small matrices.
void ThreadPool::Impl::worker(int index, uint64_t seen) {
  set_current(this);  // num_threads() inside a chunk answers for this pool, as on the caller's thread
  apply_cpu_placement(index);  // --cpu-mask / --cpu-strict (no-op when unset)
  for (;;) {
    for (int i = 0; i < kSpin && generation_.load(std::memory_order_acquire) == seen && !stop_.load(); ++i) pause();
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    if (index < parts_) {
      // An exception must not leave a worker thread (std::terminate): kept
      // for the caller, which rethrows it after the region.
      try {
        ParallelScope scope;
        LimitsScope limits(*limits_);
        run_share(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::Impl::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  stop_.store(false);
}

namespace {

ThreadPool::Impl& default_pool() {
  static ThreadPool::Impl p(1);
  return p;
}

// The pool of the session running on this thread (PoolScope), else null.
thread_local ThreadPool::Impl* t_pool = nullptr;

ThreadPool::Impl& current_pool() { return t_pool ? *t_pool : default_pool(); }

}  // namespace

void ThreadPool::Impl::set_current(Impl* pool) { t_pool = pool; }

ThreadPool::ThreadPool(int threads) : impl_(std::make_unique<Impl>(threads)) {}
ThreadPool::~ThreadPool() = default;
int ThreadPool::size() const { return impl_->size(); }

PoolScope::PoolScope(ThreadPool* pool) : saved_(t_pool) {
  if (pool) t_pool = pool->impl_.get();
}
PoolScope::~PoolScope() { t_pool = saved_; }

void set_num_threads(int n) {
  if (n != default_pool().size()) default_pool().resize(n);
}
int num_threads() { return t_one_thread ? 1 : current_pool().size(); }
bool in_parallel_region() { return t_in_parallel; }

#ifdef PARETO_USE_OPENMP
// Comparison build (-DPARETO_OPENMP=ON): the same contiguous chunks on
// OpenMP's team; nested regions run inline as in the pool.
void parallel_for(int64_t n, RangeFn fn) {
  const int parts = int(std::min<int64_t>(current_pool().size(), n));
  if (parts <= 1 || t_in_parallel) {
    if (n > 0) fn(0, n);
    return;
  }
#pragma omp parallel num_threads(parts)
  {
    const int i = omp_get_thread_num();
    ParallelScope scope;
    fn(n * i / parts, n * (i + 1) / parts);
  }
}
void parallel_for_dynamic(int64_t n, RangeFn fn) {
  const int parts = int(std::min<int64_t>(current_pool().size(), n));
  if (parts <= 1 || t_in_parallel) {
    if (n > 0) fn(0, n);
    return;
  }
  // An exception must not leave an OpenMP region (std::terminate): the
  // first one is kept and rethrown here, as the pool does.
  std::exception_ptr error;
  std::mutex error_mutex;
  const Limits& limits = current_limits();
#pragma omp parallel for schedule(dynamic, 1) num_threads(parts)
  for (int64_t i = 0; i < n; ++i) {
    try {
      ParallelScope scope;
      LimitsScope in_force(limits);
      fn(i, i + 1);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}
// The comparison build keeps the static chunks (one index per call would
// pay the kernels' per-call set-up on every index).
void parallel_for_balanced(int64_t n, RangeFn fn) { parallel_for(n, fn); }
#else
void parallel_for(int64_t n, RangeFn fn) { current_pool().run(n, fn); }
void parallel_for_dynamic(int64_t n, RangeFn fn) { current_pool().run(n, fn, ThreadPool::Impl::Split::kDynamic); }
void parallel_for_balanced(int64_t n, RangeFn fn) { current_pool().run(n, fn, ThreadPool::Impl::Split::kBalanced); }
#endif

}  // namespace pareto
