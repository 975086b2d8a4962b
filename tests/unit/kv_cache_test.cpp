// The tiled prompt attention of the f32 and f16 KV caches (query blocks x
// the heads sharing a KV head, GEMMs, vectorized softmax) against attend()
// per token and head, with GQA, a prompt after earlier positions, blocks
// with a short tail, and 1-2 threads.
#include "llm/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/thread_pool.h"
#include "kernel_test_util.h"

using namespace pareto;
using namespace pareto::llm;
using pareto::testing::randn;

TEST(KvCache, TiledPromptAttentionMatchesPerHeadAttention) {
  ModelConfig c;
  c.n_layers = 2, c.n_heads = 8, c.n_kv_heads = 2, c.head_dim = 32;
  c.dim = c.n_heads * c.head_dim;
  const int64_t kv_dim = c.n_kv_heads * c.head_dim, q_dim = c.n_heads * c.head_dim;
  for (KvType type : {KvType::f32, KvType::f16})
    for (int threads : {1, 2})
      for (int64_t first_pos : {int64_t(0), int64_t(5)})
        for (int64_t n : {int64_t(16), int64_t(37)}) {
          set_num_threads(threads);
          const int64_t total = first_pos + n;
          auto cache = KvCache::create(type, c, total + 3);
          const auto k = randn(size_t(total * kv_dim), 1), v = randn(size_t(total * kv_dim), 2);
          for (int64_t layer = 0; layer < c.n_layers; ++layer)
            for (int64_t p = 0; p < total; ++p) cache->store(layer, p, k.data() + p * kv_dim, v.data() + p * kv_dim);
          const auto q = randn(size_t(n * q_dim), 3, 2.f);
          std::vector<float> tiled(size_t(n * q_dim), 7.f), per_head(size_t(n * q_dim), 7.f);
          cache->attend_batch(1, c, q.data(), n, first_pos, tiled.data());
          cache->KvCache::attend_batch(1, c, q.data(), n, first_pos, per_head.data());
          for (size_t i = 0; i < tiled.size(); ++i)
            ASSERT_NEAR(tiled[i], per_head[i], 2e-5 * (1 + std::abs(per_head[i])))
                << (type == KvType::f16 ? "f16" : "f32") << " threads " << threads << " first_pos " << first_pos << " n " << n << " at " << i;
        }
  set_num_threads(1);
}
