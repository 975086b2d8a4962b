// Resource limits: how much a model file, an image, an audio file or a
// request may make pareto allocate. A hostile file that asks for more is
// refused with an error naming the limit and how to raise it, before the
// allocation.
//
// Each limit has a built-in default, which PARETO_LIMIT_<NAME> environment
// variables override (read once, at start-up: e.g.
// PARETO_LIMIT_TENSOR_BYTES=8G). Sessions and pipelines take a Limits in
// their options (default: those process defaults) and apply it to
// everything they run; the CLI sets it with --limit NAME=VALUE.
#pragma once
#include <cstdint>
#include <string>

#include "pareto/error.h"

namespace pareto {

struct Limits {
  uint64_t tensor_bytes = uint64_t(2) << 30;     // one tensor, weights or activations (2 GiB)
  uint64_t tensor_elements = uint64_t(1) << 31;  // elements of one tensor
  int64_t vocab_size = int64_t(1) << 21;         // tokens in a vocabulary
  int64_t context = int64_t(1) << 20;            // KV cache positions
  int64_t image_pixels = int64_t(1) << 27;       // width x height of a decoded image
  int64_t audio_seconds = 4 * 3600;              // length of a decoded audio file
};

// The built-in defaults overridden by PARETO_LIMIT_* variables (once).
const Limits& default_limits();

// The limits in force on this thread: the innermost LimitsScope's, else the defaults.
const Limits& current_limits();

// Applies `limits` to what this thread does until the scope ends.
class LimitsScope {
 public:
  explicit LimitsScope(const Limits& limits);
  ~LimitsScope();
  LimitsScope(const LimitsScope&) = delete;
  LimitsScope& operator=(const LimitsScope&) = delete;

 private:
  const Limits* saved_;
  Limits limits_;
};

// "tensor-bytes=8G", "vocab-size=300000" (K, M, G, T suffixes are powers of
// 1024). Throws pareto::Error (invalid_argument) listing the names otherwise.
void set_limit(Limits& limits, const std::string& spec);
// The names, for help texts: "tensor-bytes, tensor-elements, ...".
std::string limit_names();

// Throws (StatusCode::out_of_memory) when value > limit: "<what> needs
// <value> <unit>, above the <name> limit of <limit> (raise it with --limit
// <name>=N or PARETO_LIMIT_<NAME>=N)".
void check_limit(const std::string& what, uint64_t value, const char* name);

}  // namespace pareto
