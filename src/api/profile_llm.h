// The LLM profile of a model already in memory (and repacked as the caller
// wants): pareto profile loads a file first, pareto tune profiles its
// candidates without writing them.
#pragma once
#include <string>

#include "llm/model.h"
#include "pareto/profile.hpp"

namespace pareto::api {

// The report as JSON text (docs/PROFILE.md); `name` is its model field.
std::string profile_loaded_llm(llm::Model& model, const std::string& name, const ProfileOptions& options);

}  // namespace pareto::api
