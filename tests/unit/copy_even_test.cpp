// The stride-2 row kernels (kernels/conv.h) against their scalar loops:
// the row copies of the im2col lowerings (avx512::copy_even for floats,
// avx512::copy_even_bytes for the int8 conv's uint8 rows) on every length
// 1-130, and the 2x2 max pool's row, on sources that end exactly where
// they may be read: the row ends on a page the process may not read, so a
// load past `avail` fails the test.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <limits>
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

// The 2x2 stride-2 max pool's row (the other stride-2 row kernel) against
// its scalar twin, bit for bit: widths 1-70, each row ending at the guard
// page, values with NaN, both zeros and infinities among them.
TEST(MaxPool2x2Row, MatchesScalarTwinWithinRows) {
  if (!kBuildX86 || kernel_table().level != IsaLevel::avx512) GTEST_SKIP() << "no AVX-512 level here: the pool runs the scalar loop";
  GuardedBuffer buf0, buf1;
  ASSERT_TRUE(buf0.ok() && buf1.ok());
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), 0.f, -0.f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), -1.f, 2.5f};
  for (int64_t out_w = 1; out_w <= 70; ++out_w) {
    const size_t floats = size_t(2 * out_w);
    float* r0 = reinterpret_cast<float*>(buf0.ending_at_guard(floats * sizeof(float)));
    float* r1 = reinterpret_cast<float*>(buf1.ending_at_guard(floats * sizeof(float)));
    for (size_t i = 0; i < floats; ++i) {
      r0[i] = (i * 5 + size_t(out_w)) % 3 == 0 ? specials[(i + size_t(out_w)) % 7] : float(int(i * 37 % 19) - 9);
      r1[i] = (i * 3 + size_t(out_w)) % 4 == 0 ? specials[(i * 2 + 1) % 7] : float(int(i * 23 % 17) - 8);
    }
    std::vector<float> got(size_t(out_w + 20), 99.f), want(size_t(out_w + 20), 99.f);
    avx512::maxpool_2x2_row(r0, r1, out_w, got.data());
    maxpool_2x2_row_ref(r0, r1, out_w, want.data());
    ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float))) << "out_w " << out_w;  // bits, and nothing past out_w
  }
}
