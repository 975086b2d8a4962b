#include "pareto/models.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace pareto {

namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string();
}

// The folder of the running binary (/proc/self/exe), or "" where unknown.
std::string binary_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

bool holds(const std::string& dir, const std::string& file) {
  std::error_code ec;
  return !dir.empty() && fs::is_regular_file(fs::path(dir) / file, ec);
}

}  // namespace

ModelLocation ocr_models() { return {"ocr", "ch_PP-OCRv4_rec_infer.onnx", "PARETO_OCR_MODELS", false}; }
ModelLocation vad_models() { return {"silero", "silero_vad.onnx", "PARETO_VAD_MODEL", true}; }
ModelLocation wakeword_models() { return {"openwakeword", "embedding_model.onnx", "PARETO_WAKEWORD_MODELS", false}; }

std::vector<std::string> model_search_path(const ModelLocation& where) {
  std::vector<std::string> dirs;
  if (!where.env_var.empty()) {
    const std::string v = env(where.env_var.c_str());
    if (!v.empty()) dirs.push_back(where.env_names_file ? fs::path(v).parent_path().string() : v);
  }
  if (const std::string root = env("PARETO_MODELS"); !root.empty()) dirs.push_back(root + "/" + where.kind);
  const std::string xdg = env("XDG_CACHE_HOME"), home = env("HOME");
  if (!xdg.empty()) dirs.push_back(xdg + "/pareto/models/" + where.kind);
  else if (!home.empty()) dirs.push_back(home + "/.cache/pareto/models/" + where.kind);
  if (const std::string bin = binary_dir(); !bin.empty()) {
    dirs.push_back(bin + "/../models/" + where.kind);
    dirs.push_back(bin + "/../share/pareto/models/" + where.kind);
  }
  dirs.push_back("models/" + where.kind);
  return dirs;
}

Result<std::string> find_model_dir(const ModelLocation& where, const std::string& explicit_dir) {
  std::vector<std::string> tried;
  if (!explicit_dir.empty()) tried.push_back(explicit_dir);
  else tried = model_search_path(where);
  for (const std::string& d : tried)
    if (holds(d, where.probe_file)) {
      std::error_code ec;
      const fs::path canon = fs::weakly_canonical(d, ec);
      return ec ? d : canon.string();
    }
  std::string msg = where.probe_file + " not found in";
  for (size_t i = 0; i < tried.size(); ++i) msg += (i ? ", " : " ") + tried[i];
  msg += explicit_dir.empty() ? "" : " (the folder given)";
  const std::string root = env("PARETO_MODELS");
  msg += ". Fetch the models with `bash scripts/fetch-models.sh` from the pareto checkout (it puts them in " +
         (root.empty() ? std::string("${XDG_CACHE_HOME:-~/.cache}/pareto/models") : root + ", from $PARETO_MODELS") + "), or point " +
         (where.env_var.empty() ? std::string("PARETO_MODELS") : where.env_var) + " at " +
         (where.env_names_file ? "the " + where.probe_file + " file" : "the folder that holds them");
  return Status{StatusCode::io_error, msg};
}

Result<std::string> find_model_file(const ModelLocation& where, const std::string& explicit_file) {
  std::string file = explicit_file;
  if (file.empty() && where.env_names_file && !where.env_var.empty()) file = env(where.env_var.c_str());
  if (file.empty()) {
    auto dir = find_model_dir(where);
    if (!dir.ok()) return dir.status();
    return dir.value() + "/" + where.probe_file;
  }
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    return Status{StatusCode::io_error, file + ": no such model file (given " +
                                            (explicit_file.empty() ? "by $" + where.env_var : std::string("explicitly")) + ")"};
  return file;
}

}  // namespace pareto
