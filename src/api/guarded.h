// Runs library code and turns what it throws into a Status: the one place
// where exceptions cross into the public API.
#pragma once
#include <exception>
#include <new>

#include "pareto/pareto.hpp"

namespace pareto::api {

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

}  // namespace pareto::api
