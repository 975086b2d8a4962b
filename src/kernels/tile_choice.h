// Which tile GEMM a kernel uses: the automatic choice (AMX where the CPU
// and OS allow it), or one the tests set (an emulated build, or none to
// test the vector path on AMX machines). Atomic: packing and tiles read it
// from worker threads.
#pragma once
#include <atomic>

namespace pareto::kernels {

template <class Fn>
class TileChoice {
 public:
  Fn get(Fn automatic) const { return set_.load(std::memory_order_acquire) ? given_.load(std::memory_order_acquire) : automatic; }
  void set(Fn fn) {
    given_.store(fn, std::memory_order_release);
    set_.store(true, std::memory_order_release);
  }
  void reset() { set_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> set_{false};
  std::atomic<Fn> given_{nullptr};
};

}  // namespace pareto::kernels
