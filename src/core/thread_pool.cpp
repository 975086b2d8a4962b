#include "core/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

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

class ThreadPool {
 public:
  ~ThreadPool() { resize(1); }

  void resize(int n) {
    n = std::max(1, n);
    stop_workers();
    threads_ = n;
    uint64_t start = generation_;  // workers wait for the next region, not ones already run
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, start] { worker(i, start); });
  }
  int size() const { return threads_; }

  void run(int64_t n, const RangeFn& fn) {
    int parts = int(std::min<int64_t>(threads_, n));
    if (parts <= 1 || t_in_parallel) {
      if (n > 0) fn(0, n);
      return;
    }
    std::unique_lock<std::mutex> run_lock(run_mutex_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    {
      ParallelScope scope;
      fn(0, chunk_end(0));
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  int64_t chunk_begin(int i) const { return n_ * i / parts_; }
  int64_t chunk_end(int i) const { return n_ * (i + 1) / parts_; }

  void worker(int index, uint64_t seen) {
    for (;;) {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= parts_) continue;
      const auto* fn = fn_;
      int64_t b = chunk_begin(index), e = chunk_end(index);
      lock.unlock();
      {
        ParallelScope scope;
        (*fn)(b, e);
      }
      lock.lock();
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_, run_mutex_;
  std::condition_variable cv_, done_cv_;
  const RangeFn* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

}  // namespace

void set_num_threads(int n) {
  if (n != pool().size()) pool().resize(n);
}
int num_threads() { return pool().size(); }
void parallel_for(int64_t n, RangeFn fn) { pool().run(n, fn); }

}  // namespace pareto
