// Large tensor buffers kept for the next run (core/buffer_cache.h).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/buffer_cache.h"
#include "core/tensor.h"

using namespace pareto;

namespace {

// True where the cache is on (off in sanitizer builds and with
// PARETO_TENSOR_CACHE_MB=0).
bool cache_on() {
  trim_buffer_cache();
  void* p = acquire_buffer(size_t(1) << 20);
  release_buffer(p, size_t(1) << 20);
  const bool on = buffer_cache_bytes() > 0;
  trim_buffer_cache();
  return on;
}

}  // namespace

TEST(BufferCache, AFreedLargeBufferIsReusedForTheSameSize) {
  if (!cache_on()) GTEST_SKIP() << "the buffer cache is off in this build (sanitizers) or by PARETO_TENSOR_CACHE_MB=0";
  const size_t n = 1600 * 1024 + 64;  // not a whole number of pages
  void* a = acquire_buffer(n);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, n);
  release_buffer(a, n);
  EXPECT_EQ(buffer_cache_bytes(), (n + 4095) / 4096 * 4096);
  void* other = acquire_buffer(n * 2);  // another size: not this one
  EXPECT_NE(other, a);
  void* b = acquire_buffer(n);
  EXPECT_EQ(b, a);
  EXPECT_EQ(buffer_cache_bytes(), 0u);
  release_buffer(b, n);
  release_buffer(other, n * 2);
  trim_buffer_cache();
  EXPECT_EQ(buffer_cache_bytes(), 0u);
}

TEST(BufferCache, SmallBuffersAreLeftToMalloc) {
  if (!cache_on()) GTEST_SKIP() << "the buffer cache is off in this build";
  void* p = acquire_buffer(64 * 1024);
  release_buffer(p, 64 * 1024);
  EXPECT_EQ(buffer_cache_bytes(), 0u);
}

TEST(BufferCache, HoldsAtMostItsCapAndDropsTheOldest) {
  if (!cache_on()) GTEST_SKIP() << "the buffer cache is off in this build";
  if (std::getenv("PARETO_TENSOR_CACHE_MB")) GTEST_SKIP() << "PARETO_TENSOR_CACHE_MB set: the test checks the default cap";
  const size_t n = size_t(8) << 20;
  std::vector<void*> held;
  for (int i = 0; i < 20; ++i) held.push_back(acquire_buffer(n));  // 160 MiB live
  for (void* p : held) release_buffer(p, n);
  EXPECT_LE(buffer_cache_bytes(), size_t(64) << 20) << "default cap 64 MiB";
  EXPECT_GT(buffer_cache_bytes(), 0u);
  // The newest are kept: the last released comes back first.
  void* again = acquire_buffer(n);
  EXPECT_EQ(again, held.back());
  release_buffer(again, n);
  trim_buffer_cache();
}

TEST(BufferCache, TensorsGiveTheirBuffersBack) {
  if (!cache_on()) GTEST_SKIP() << "the buffer cache is off in this build";
  const void* first;
  {
    Tensor t = Tensor::empty(DType::f32, {1, 1, 640, 640});
    first = t.raw();
  }
  EXPECT_GT(buffer_cache_bytes(), 0u);
  Tensor again = Tensor::zeros(DType::f32, {1, 1, 640, 640});  // zeros still zeroes a reused buffer
  EXPECT_EQ(again.raw(), first);
  for (int64_t i = 0; i < again.numel(); i += 4099) ASSERT_EQ(again.data<float>()[i], 0.f);
  trim_buffer_cache();
}
