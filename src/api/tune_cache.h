// pareto tune's cache of measured qualities: a JSON-lines file, one object
// per measured mix with the model fingerprint, the mix key and named
// numbers ({"model": F, "mix": K, "kl": ..., "ppl": ...}); the GGUF tune
// keeps its cost model's matmul times there too, under their own
// fingerprint ({"model": "tune-matvec-v1|...", "mix": "TENSOR:TYPE", "ms": ...}). A rerun with the
// same file measures only what is new (resumes). Lines of another model or
// kernel set, malformed lines and lines cut short by a crash are skipped.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace pareto::api {

class TuneCache {
 public:
  // `fields`: the numbers each entry must carry, in the order find/add use.
  TuneCache(std::string path, std::string fingerprint, std::vector<std::string> fields);
  // The values stored for `key` (in the order of `fields`), or null.
  const std::vector<double>* find(const std::string& key) const;
  // Keeps and appends (when there is a file) one entry.
  void add(const std::string& key, const std::vector<double>& values);

 private:
  std::string path_, fingerprint_;
  std::vector<std::string> fields_;
  std::map<std::string, std::vector<double>> known_;
};

// Identifies a file as it is now: its path, size and modification time.
std::string file_identity(const std::string& path);

// The identity of the file pareto's code runs from (the program, or
// libpareto.so): part of every cache fingerprint, so a rebuilt quantizer or
// kernel never reuses a quality another build measured (a rebuild starts a
// fresh cache; the same build resumes). "unknown build" where neither the
// loader nor /proc/self/exe says.
std::string build_identity();

// Refuses an output that is one of tune's inputs or its cache (the same
// file by any path): writing it would destroy a model tune reads, or has
// mapped, or the measured points. Empty names are skipped.
void refuse_output_among_inputs(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace pareto::api
