// What the labelled sets share (the OCR set's CER, the VAD set's boundary
// error): DIR/truth.json read with a clear error, and the files it names
// kept inside DIR.
#pragma once
#include <filesystem>
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

// `where` names the entry in errors. No absolute paths, no way up, no link
// leading out, and a regular file (a FIFO would hang the reader).
inline std::string file_in_set(const std::string& set_dir, const std::string& file, const std::string& where) {
  namespace fs = std::filesystem;
  if (file.empty() || file[0] == '/' || ("/" + file + "/").find("/../") != std::string::npos)
    fail_model(where + " names '" + file + "', not a path inside the set");
  const std::string path = set_dir + "/" + file;
  std::error_code ec;
  const fs::path rel = fs::weakly_canonical(path, ec).lexically_relative(fs::weakly_canonical(set_dir, ec));
  if (ec || rel.empty() || *rel.begin() == "..") fail_model(where + " names '" + file + "', not a path inside the set (a link leads out)");
  if (!fs::is_regular_file(path, ec)) fail(StatusCode::io_error, where + " names '" + file + "', which is not a regular file here");
  return path;
}

}  // namespace pareto::apps
