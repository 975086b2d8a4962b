// What the GGUF tune tests share: stories260K from ../shared and a small, quick tune.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "pareto/tune.hpp"

namespace pareto::tune_test {

inline std::string shared_models() { return std::string(PARETO_SOURCE_DIR) + "/../shared/models"; }

inline std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline LlmTuneOptions small_options() {
  LlmTuneOptions o;
  o.formats = "q8_0,q4_0,f16";  // any order: tune sorts them widest first
  o.ctx = 64;
  o.max_chunks = 3;
  o.points = 4;
  o.generations = 2;
  o.population = 6;
  o.runs = 1;
  o.rounds = 2;
  o.prompt_tokens = 4;
  o.decode_tokens = 4;
  o.max_timed = 4;
  return o;
}

template <class T>
T take(Result<T> r) {
  if (!r.ok()) throw std::runtime_error(r.status().message);
  return std::move(r).value();
}

#define NEED_STORIES()                                                                  \
  if (!std::filesystem::exists(shared_models() + "/stories260K.gguf"))                 \
  GTEST_SKIP() << "../shared/models/stories260K.gguf not found (../shared beside the repository)"

}  // namespace pareto::tune_test
