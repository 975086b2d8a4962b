// Errors of the HTTP API in OpenAI's shape:
// {"error": {"message", "type", "param", "code"}} with a matching status.
#pragma once
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace pareto::serve {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string type, const std::string& message, std::string param = {}, std::string code = {})
      : std::runtime_error(message), status(status), type(std::move(type)), param(std::move(param)), code(std::move(code)) {}
  int status;
  std::string type, param, code;
};

// 400 invalid_request_error naming the parameter.
[[noreturn]] inline void bad_request(const std::string& message, const std::string& param = {}, const std::string& code = {}) {
  throw ApiError(400, "invalid_request_error", message, param, code);
}

inline nlohmann::json error_body(const ApiError& e) {
  auto or_null = [](const std::string& s) { return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s); };
  return {{"error", {{"message", e.what()}, {"type", e.type}, {"param", or_null(e.param)}, {"code", or_null(e.code)}}}};
}

// JSON text that stays valid whatever bytes a model produced (invalid
// UTF-8 becomes U+FFFD instead of an exception).
inline std::string to_text(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace pareto::serve
