// Where pareto finds the models its apps use, from any working directory.
//
// scripts/fetch-models.sh puts them in the user's cache folder
// ($XDG_CACHE_HOME/pareto/models, else ~/.cache/pareto/models, or
// $PARETO_MODELS when set). The search, first hit wins:
//   1. the folder given explicitly (--models / --model), if any: only it;
//   2. the app's own environment variable ($PARETO_OCR_MODELS and
//      $PARETO_WAKEWORD_MODELS: the folder; $PARETO_VAD_MODEL: the .onnx file);
//   3. $PARETO_MODELS/<kind>;
//   4. $XDG_CACHE_HOME/pareto/models/<kind>, else ~/.cache/pareto/models/<kind>;
//   5. beside the binary: <bin>/../models/<kind> (a build folder in the
//      checkout) and <bin>/../share/pareto/models/<kind> (an installed tree);
//   6. models/<kind> under the working directory.
#pragma once
#include <string>
#include <vector>

#include "pareto/pareto.hpp"

namespace pareto {

struct ModelLocation {
  std::string kind;         // "ocr", "silero": the subfolder
  std::string probe_file;   // a file the folder must hold, e.g. "ch_PP-OCRv4_rec_infer.onnx"
  std::string env_var;      // the app's own variable ("" for none)
  bool env_names_file = false;  // the variable names the probe file itself, not its folder
};

// The folders searched, in order, without the explicit one.
std::vector<std::string> model_search_path(const ModelLocation& where);

// The folder holding where.probe_file. With a non-empty `explicit_dir`
// only that folder is tried. The error lists every folder tried and says
// how to fetch the models.
Result<std::string> find_model_dir(const ModelLocation& where, const std::string& explicit_dir = "");

// The model file itself: `explicit_file` when given (only it); else, when
// the app's variable names a file (PARETO_VAD_MODEL), that file; else
// where.probe_file in find_model_dir's folder. Errors name the file tried.
Result<std::string> find_model_file(const ModelLocation& where, const std::string& explicit_file = "");

// The ones the apps use.
ModelLocation ocr_models();
ModelLocation vad_models();
ModelLocation wakeword_models();  // openWakeWord: melspectrogram, embedding, heads

}  // namespace pareto
