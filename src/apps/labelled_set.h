// What the labelled sets share (the OCR set's CER, the VAD set's boundary
// error): DIR/truth.json read with a clear error, and the files it names
// kept inside DIR.
#pragma once
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "pareto/error.h"

namespace pareto::apps {

inline nlohmann::json read_truth(const std::string& set_dir) {
  const std::string path = set_dir + "/truth.json";
  std::ifstream f(path);
  if (!f) fail(StatusCode::io_error, "cannot open " + path);
  try {
    return nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    fail_model(path + ": " + e.what());
  }
}

// `where` names the entry in errors. No absolute paths, no way up.
inline std::string file_in_set(const std::string& set_dir, const std::string& file, const std::string& where) {
  if (file.empty() || file[0] == '/' || ("/" + file + "/").find("/../") != std::string::npos)
    fail_model(where + " names '" + file + "', not a path inside the set");
  return set_dir + "/" + file;
}

}  // namespace pareto::apps
