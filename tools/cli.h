// Small shared pieces of the `pareto` command line.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "pareto/llm.hpp"
#include "pareto/pareto.hpp"
#include "pareto/tensor_io.hpp"

namespace pareto::tools {

// argv after the subcommand, split into positionals and --options.
struct Args {
  std::string command;  // for messages: "pareto run"
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;  // "--runs" -> "10"; flags map to ""
  bool has(const std::string& key) const { return options.count(key) > 0; }
  std::string get(const std::string& key, const std::string& def = "") const;
  // A whole number in [lo, hi]; anything else (trailing text, overflow, out
  // of range) is refused naming the option and the range.
  int64_t get_int(const std::string& key, int64_t def, int64_t lo, int64_t hi) const;
  double get_double(const std::string& key, double def, double lo, double hi) const;
  // --threads N (or -t N): 1 to 1024; absent: `def`, or when 0 the
  // performance cores (pareto::default_threads()).
  int get_threads(int def = 0) const;
  std::vector<std::string> all(const std::string& key) const;
};

// The options one command accepts: flags take no value, the others one.
struct OptionSpec {
  std::vector<std::string> flags;
  std::vector<std::string> values;
};

// Refuses an option the command does not take (naming it, with the nearest
// known spelling) and a value-taking option without its value.
Args parse_args(int argc, char** argv, int first, const OptionSpec& spec);

// A number in [lo, hi] from text, for values inside other options (the
// items of -t 1,2); `what` names them in the error.
int64_t parse_int(const std::string& text, const std::string& what, int64_t lo, int64_t hi);
// "1,4,16": each comma-separated item through parse_int.
std::vector<int64_t> parse_int_list(const std::string& text, const std::string& what, int64_t lo, int64_t hi);
// "a,b,c": the names, none empty.
std::vector<std::string> parse_name_list(const std::string& text, const std::string& what);
double parse_double(const std::string& text, const std::string& what, double lo, double hi);

// --shape NAME=1,3,640,640 (repeatable).
std::map<std::string, Shape> parse_shapes(const Args& args);

// --const NAME=VALUE (repeatable): a scalar input fixed at compile time
// (int64 for integer literals, else float32).
std::map<std::string, Tensor> parse_constants(const Args& args);
// --precision fp32|bf16 and --precision-keep NODE... into the options (they need -O).
void parse_precision(const Args& args, SessionOptions& options);

// Builds every model input from --input NAME=FILE.npy|random[:SEED]|fill:V and --shape.
std::map<std::string, Tensor> make_inputs(const Session& session, const Args& args);

// Deterministic uniform [-1, 1) values (splitmix64), shared with the test scripts.
void fill_random(Tensor& t, uint64_t seed);

int cmd_info(const Args& args);
int cmd_run(const Args& args);
int cmd_profile(const Args& args);
int cmd_bench(const Args& args);
int cmd_generate(const Args& args);
// Opens the LLM named by the first positional argument (--tokenizer, --ctx, --threads).
std::unique_ptr<LlmSession> open_llm(const Args& args);
int cmd_tokenize(const Args& args);
int cmd_perplexity(const Args& args);
int cmd_synth(const Args& args);
int cmd_chat(const Args& args);
int cmd_bench_llm(const Args& args);
int cmd_bench_parallel(const Args& args);
int cmd_bench_bandwidth(const Args& args);
int cmd_ocr(const Args& args);
int cmd_vad(const Args& args);
int cmd_wakeword(const Args& args);
int cmd_classify(const Args& args);
int cmd_compile(const Args& args);
int cmd_quantize(const Args& args);
int cmd_quantize_onnx(const Args& args);  // cmd_quantize hands .onnx inputs here
int cmd_tune(const Args& args);
int cmd_tune_llm(const Args& args);
int cmd_serve(const Args& args);
int cmd_route_calibrate(const Args& args);
int cmd_calibrate(const Args& args);
int cmd_eval(const Args& args);
GenerateOptions generate_options(const Args& args);

std::string format_bytes(size_t bytes);

// The value of a public-API result; its error otherwise, thrown for main's
// handler to report.
template <class T>
T take(Result<T> r) {
  if (!r.ok()) throw Error(r.status().code, r.status().message);
  return std::move(r.value());
}
inline void take(const Status& s) {
  if (!s.ok()) throw Error(s.code, s.message);
}

}  // namespace pareto::tools
