#pragma once
#include <cstddef>
#include <cstdint>

#include "llm/model.h"
#include "pareto/llm.hpp"

namespace pareto::api {

// The model's shapes, weight type and parameter count, with the context and
// KV cache bytes of the session or engine holding it.
LlmInfo describe_llm(const llm::Model& model, int64_t ctx, size_t kv_cache_bytes);

}  // namespace pareto::api
