// The stride-2 row copies of the im2col lowerings (kernels/conv.h:
// avx512::copy_even for floats, avx512::copy_even_bytes for the int8
// conv's uint8 rows) against the scalar loop, on every length 1-130 and
// sources that end exactly where they may be read: the row ends on a page
// the process may not read, so a load past `avail` fails the test.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/cpu.h"
#include "kernels/conv.h"
#include "kernels/dispatch.h"

using namespace pareto;
using namespace pareto::kernels;

namespace {

// Two pages, the second unreadable: bytes just before it.
class GuardedBuffer {
 public:
  GuardedBuffer() : page_(size_t(sysconf(_SC_PAGESIZE))) {
    void* m = mmap(nullptr, 2 * page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    base_ = m == MAP_FAILED ? nullptr : static_cast<uint8_t*>(m);
    if (base_ && mprotect(base_ + page_, page_, PROT_NONE) != 0) {  // no guard, no test: ok() says so
      munmap(base_, 2 * page_);
      base_ = nullptr;
    }
  }
  ~GuardedBuffer() {
    if (base_) munmap(base_, 2 * page_);
  }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  bool ok() const { return base_ != nullptr; }  // mapped, and the guard page unreadable
  uint8_t* ending_at_guard(size_t bytes) const { return base_ + page_ - bytes; }

 private:
  size_t page_;
  uint8_t* base_ = nullptr;
};

template <class T>
void check_copy_even(void (*copy)(const T*, int64_t, int64_t, T*)) {
  GuardedBuffer buf;
  ASSERT_TRUE(buf.ok());
  for (int64_t n = 1; n <= 130; ++n)
    for (int64_t extra : {0, 1, 9}) {  // avail: the 2n - 1 elements read, or a few more
      const int64_t avail = 2 * n - 1 + extra;
      T* src = reinterpret_cast<T*>(buf.ending_at_guard(size_t(avail) * sizeof(T)));
      for (int64_t i = 0; i < avail; ++i) src[i] = T(i * 7 + 3);
      std::vector<T> got(size_t(n + 40), T(99)), want(size_t(n + 40), T(99));
      for (int64_t c = 0; c < n; ++c) want[size_t(c)] = src[2 * c];
      copy(src, n, avail, got.data());
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(T))) << "n " << n << " avail " << avail;  // nothing past n written
    }
}

}  // namespace

TEST(CopyEven, FloatsMatchScalarLoopWithinAvail) {
  if (!kBuildX86 || kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: the loop is the scalar one";
  if constexpr (kBuildX86) check_copy_even<float>(avx512::copy_even);
}

TEST(CopyEven, BytesMatchScalarLoopWithinAvail) {
  if (!kBuildX86 || kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: the int8 im2col copies bytes one by one";
  if constexpr (kBuildX86) check_copy_even<uint8_t>(avx512::copy_even_bytes);
}
