// A non-owning reference to a callable for the length of one call: unlike
// std::function it never allocates, so a callback on a hot path (a conv's
// tiles, a per-node cache lookup on every conv call) costs no heap traffic.
// It points at the callable it was made from: pass a lambda straight to the
// call, never keep a FunctionRef past the statement. (pareto::RangeFn in the
// public thread_pool.hpp is the same idea for (begin, end).)
#pragma once
#include <type_traits>

namespace pareto {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(const F& f)  // NOLINT: implicit on purpose, callers pass lambdas
      : obj_(&f), call_([](const void* o, Args... args) -> R { return (*static_cast<const F*>(o))(args...); }) {}
  R operator()(Args... args) const { return call_(obj_, args...); }

 private:
  const void* obj_;
  R (*call_)(const void*, Args...);
};

}  // namespace pareto
