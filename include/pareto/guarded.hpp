// Runs library code and turns what it throws into a Status: the one place
// where exceptions cross into the public API. Public so that code built on
// pareto (the apps, a user's own pipeline) reports errors the same way.
#pragma once
#include <exception>
#include <new>

#include "pareto/pareto.hpp"

namespace pareto {

template <class F>
auto guarded(F&& fn) -> Result<decltype(fn())> {
  try {
    return fn();
  } catch (const Error& e) {
    return Status{e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return Status{StatusCode::out_of_memory, "out of memory"};
  } catch (const std::exception& e) {
    return Status{StatusCode::internal, e.what()};
  }
}

namespace api {
using pareto::guarded;
}  // namespace api

}  // namespace pareto
