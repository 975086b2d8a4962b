#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "llm/model.h"
#include "pareto/llm.hpp"

namespace pareto::api {

// The model's shapes, weight type and parameter count, with the context and
// KV cache bytes of the session or engine holding it.
LlmInfo describe_llm(const llm::Model& model, int64_t ctx, size_t kv_cache_bytes);

// The model as a session or engine opens it: loaded, repacked for this CPU
// unless options.repack is off.
std::unique_ptr<llm::Model> load_llm(const std::string& path, const LlmOptions& options);
// The KV cache length: options.ctx, or the model's context capped at 4096.
int64_t llm_context(const llm::Model& model, const LlmOptions& options);

}  // namespace pareto::api
