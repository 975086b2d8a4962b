// Errors inside the library are thrown as pareto::Error and turned into a
// Status at the public API boundary (src/api). Nothing reachable from model
// or network input may abort the process.
#pragma once
#include <stdexcept>
#include <string>

namespace pareto {

enum class StatusCode { ok = 0, invalid_argument, invalid_model, unsupported, out_of_memory, io_error, internal };

const char* status_code_name(StatusCode code);

class Error : public std::runtime_error {
 public:
  Error(StatusCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  StatusCode code() const { return code_; }

 private:
  StatusCode code_;
};

[[noreturn]] inline void fail(StatusCode code, const std::string& message) { throw Error(code, message); }
[[noreturn]] inline void fail_model(const std::string& message) { throw Error(StatusCode::invalid_model, message); }
[[noreturn]] inline void fail_unsupported(const std::string& message) { throw Error(StatusCode::unsupported, message); }
[[noreturn]] inline void fail_argument(const std::string& message) { throw Error(StatusCode::invalid_argument, message); }

// Checks a condition that model input can violate; the message names what is wrong.
#define PARETO_CHECK_MODEL(cond, msg) \
  do {                                 \
    if (!(cond)) ::pareto::fail_model(msg); \
  } while (0)

}  // namespace pareto
