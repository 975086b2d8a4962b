#include "core/buffer_cache.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace pareto {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_HWADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer) || \
    __has_feature(hwaddress_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

constexpr size_t kMinBytes = size_t(128) << 10;  // below this glibc's heap reuses memory itself
constexpr size_t kPage = 4096;
constexpr size_t kMaxBlocks = 64;

size_t cap_from_env() {
  const char* env = std::getenv("PARETO_TENSOR_CACHE_MB");
  if (!env || !*env) return size_t(64) << 20;
  char* end = nullptr;
  const unsigned long long mb = std::strtoull(env, &end, 10);
  if (*end || mb > (1ull << 20)) return size_t(64) << 20;  // not a number or absurd: the default
  return size_t(mb) << 20;
}

struct Cache {
  struct Block {
    void* p;
    size_t bytes;  // page-rounded size it was allocated with
  };
  std::mutex mutex;
  std::vector<Block> blocks;  // oldest first
  size_t held = 0;
  const size_t cap = kSanitized ? 0 : cap_from_env();
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: buffers may be released during static destruction
  return *c;
}

size_t rounded(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

}  // namespace

void* acquire_buffer(size_t bytes) {
  Cache& c = cache();
  if (bytes < kMinBytes || c.cap == 0) return std::aligned_alloc(64, bytes);
  if (bytes > SIZE_MAX - kPage) return nullptr;  // rounding up would wrap
  const size_t size = rounded(bytes);
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    for (size_t i = c.blocks.size(); i-- > 0;)
      if (c.blocks[i].bytes == size) {
        void* p = c.blocks[i].p;
        c.held -= size;
        c.blocks.erase(c.blocks.begin() + std::ptrdiff_t(i));
        return p;
      }
  }
  return std::aligned_alloc(64, size);
}

void release_buffer(void* p, size_t bytes) {
  if (!p) return;
  Cache& c = cache();
  if (bytes < kMinBytes || c.cap == 0 || bytes > SIZE_MAX - kPage) return std::free(p);
  const size_t size = rounded(bytes);
  if (size > c.cap) return std::free(p);
  std::vector<void*> evicted;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    while (!c.blocks.empty() && (c.held + size > c.cap || c.blocks.size() >= kMaxBlocks)) {
      evicted.push_back(c.blocks.front().p);
      c.held -= c.blocks.front().bytes;
      c.blocks.erase(c.blocks.begin());
    }
    c.blocks.push_back({p, size});
    c.held += size;
  }
  for (void* q : evicted) std::free(q);
}

void trim_buffer_cache() {
  Cache& c = cache();
  std::vector<Cache::Block> all;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    all.swap(c.blocks);
    c.held = 0;
  }
  for (const Cache::Block& b : all) std::free(b.p);
}

size_t buffer_cache_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.held;
}

}  // namespace pareto
