#pragma once
#include "pareto/guarded.hpp"

namespace pareto::api {

// The other way round from guarded(): a Result's value, or its status
// thrown (library code calling the public API from inside a guarded call).
template <class T>
T value_or_throw(Result<T> r) {
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  return std::move(r.value());
}

}  // namespace pareto::api
