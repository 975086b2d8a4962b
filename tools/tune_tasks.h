// Task metrics pareto tune (ONNX) can judge candidates by, from labelled
// data given on the command line: the OCR set's CER (--ocr-set) and the VAD
// set's boundary error (--vad-set). Each sets OnnxTuneOptions' task_metric,
// its name and its cache key (what the metric reads).
#pragma once
#include "cli.h"
#include "pareto/tune.hpp"

namespace pareto::tools {

// Sets o.task_metric (and name, key) from --ocr-set / --vad-set; refuses
// their companion options without them. `threads`: the metric's runs.
void set_task_metric(const Args& a, int threads, OnnxTuneOptions& o);

}  // namespace pareto::tools
