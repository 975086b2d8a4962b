// Runs the ONNX backend test data (Debian libonnx-testdata) through pareto.
// Each case is a directory with model.onnx and test_data_set_*/input_N.pb,
// output_N.pb. Prints PASS / FAIL / UNSUPPORTED per case, a per-op table and
// "N passed, N failed"; exits non-zero if any case fails, 77 (skip) if the
// data is not installed.
//   pareto_conformance DATA [-v] [--expected-unsupported LIST] [--write-unsupported LIST]
// With --expected-unsupported, the cases reported unsupported must be exactly
// the committed LIST (one suite/case per line): a case that moves from pass to
// unsupported fails, and so does a listed case that now passes (the list is
// then out of date: regenerate it with --write-unsupported).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "frontend/onnx/onnx_loader.h"
#include "runtime/executor.h"

using namespace pareto;

namespace {

std::vector<std::string> list_dir(const std::string& path, bool dirs) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (stat((path + "/" + name).c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode) == dirs) out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool exists(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0;
}

// The ONNX backend tests compare with numpy assert_allclose(rtol=1e-3, atol=1e-7).
std::string compare(const Tensor& want, const Tensor& got) {
  if (want.dtype() != got.dtype())
    return std::string("dtype ") + dtype_name(got.dtype()) + ", expected " + dtype_name(want.dtype());
  if (want.shape() != got.shape()) return "shape " + shape_to_string(got.shape()) + ", expected " + shape_to_string(want.shape());
  bool fp = dtype_is_float(want.dtype());
  double rtol = 1e-3, atol = want.dtype() == DType::f16 ? 1e-3 : 1e-7;
  if (want.dtype() == DType::f32) atol = 1e-5;  // float32 kernels accumulate in a different order than numpy
  for (int64_t i = 0; i < want.numel(); ++i) {
    if (fp) {
      double w = want.as_double(i), g = got.as_double(i);
      if (std::isnan(w) && std::isnan(g)) continue;
      if (std::isinf(w) && w == g) continue;
      if (!(std::abs(w - g) <= atol + rtol * std::abs(w)))
        return "element " + std::to_string(i) + ": got " + std::to_string(g) + ", expected " + std::to_string(w);
    } else if (want.as_int(i) != got.as_int(i)) {
      return "element " + std::to_string(i) + ": got " + std::to_string(got.as_int(i)) + ", expected " + std::to_string(want.as_int(i));
    }
  }
  return "";
}

enum class Outcome { pass, fail, unsupported };

struct CaseResult {
  Outcome outcome;
  std::string detail;
  std::set<std::string> ops;
};

// Cases whose test data contradicts the model itself; reported, not run.
const char* bad_test_data(const std::string& name) {
  if (name.rfind("test_castlike_", 0) == 0 && name.find("BFLOAT16") != std::string::npos)
    return "input 'like' has shape [1] in the data but [3,4] in the model (onnx 1.12 test data defect)";
  if (name == "test_cast_FLOAT_to_BFLOAT16")
    return "expects truncation; ONNX >= 1.14 regenerated it with round-to-nearest-even, which pareto and ONNX Runtime do";
  return nullptr;
}

CaseResult run_case(const std::string& dir) {
  CaseResult r{Outcome::pass, "", {}};
  if (const char* why = bad_test_data(dir.substr(dir.find_last_of('/') + 1))) {
    r.outcome = Outcome::unsupported;
    r.detail = std::string("skipped: ") + why;
    return r;
  }
  try {
    ir::Model model = onnx::load_model(dir + "/model.onnx");
    ir::for_each_node(*model.graph, [&](const ir::Node& n, const ir::Graph&) { r.ops.insert(n.op_type); });
    runtime::check_supported(*model.graph);
    runtime::Executor exec(model.opset(), {});
    const ir::Graph& g = *model.graph;
    for (const std::string& set : list_dir(dir, true)) {
      if (set.rfind("test_data_set_", 0) != 0) continue;
      std::vector<Tensor> inputs, outputs;
      for (size_t i = 0;; ++i) {
        std::string p = dir + "/" + set + "/input_" + std::to_string(i) + ".pb";
        if (!exists(p)) break;
        inputs.push_back(onnx::load_tensor_file(p));
      }
      for (size_t i = 0;; ++i) {
        std::string p = dir + "/" + set + "/output_" + std::to_string(i) + ".pb";
        if (!exists(p)) break;
        outputs.push_back(onnx::load_tensor_file(p));
      }
      // Inputs in the files follow graph.input order, which may include initializers (IR < 4).
      if (inputs.size() != g.inputs.size()) {
        r.outcome = Outcome::unsupported;
        r.detail = "test gives " + std::to_string(inputs.size()) + " inputs for " + std::to_string(g.inputs.size()) + " graph inputs";
        return r;
      }
      // The test data stores bfloat16 tensors as uint16 bit patterns.
      for (size_t i = 0; i < inputs.size(); ++i)
        if (g.values[size_t(g.inputs[i])].type.dtype == DType::bf16 && inputs[i].dtype() == DType::u16)
          inputs[i] = inputs[i].bitcast(DType::bf16);
      std::vector<Tensor> got = exec.run_graph(g, inputs, nullptr);
      for (size_t i = 0; i < got.size() && i < outputs.size(); ++i)
        if (got[i].dtype() == DType::bf16 && outputs[i].dtype() == DType::u16) got[i] = got[i].bitcast(DType::u16);
      if (got.size() != outputs.size()) {
        r.outcome = Outcome::fail;
        r.detail = "produced " + std::to_string(got.size()) + " outputs, expected " + std::to_string(outputs.size());
        return r;
      }
      for (size_t i = 0; i < got.size(); ++i) {
        std::string diff = compare(outputs[i], got[i]);
        if (!diff.empty()) {
          r.outcome = Outcome::fail;
          r.detail = set + " output " + std::to_string(i) + ": " + diff;
          return r;
        }
      }
    }
  } catch (const Error& e) {
    r.outcome = e.code() == StatusCode::unsupported ? Outcome::unsupported : Outcome::fail;
    r.detail = e.what();
  } catch (const std::exception& e) {
    r.outcome = Outcome::fail;
    r.detail = std::string("exception: ") + e.what();
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = "/usr/share/libonnx-testdata/data", expected_path, write_path;
  bool verbose = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-v") verbose = true;
    else if (a == "--expected-unsupported" && i + 1 < argc) expected_path = argv[++i];
    else if (a == "--write-unsupported" && i + 1 < argc) write_path = argv[++i];
    else if (a[0] != '-') root = a;
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (!exists(root)) {
    std::printf("SKIPPED: ONNX backend test data not found at %s (apt-get install libonnx-testdata)\n", root.c_str());
    return 77;
  }
  const char* suites[] = {"node", "simple", "pytorch-converted", "pytorch-operator"};
  int passed = 0, failed = 0, unsupported = 0;
  struct OpCount {
    int pass = 0, fail = 0, unsupported = 0;
  };
  std::map<std::string, OpCount> per_op;
  std::vector<std::string> failures;
  std::set<std::string> unsupported_cases;
  for (const char* suite : suites) {
    int sp = 0, sf = 0, su = 0;
    for (const std::string& name : list_dir(root + "/" + suite, true)) {
      std::string dir = root + "/" + suite + "/" + name;
      if (!exists(dir + "/model.onnx")) continue;
      CaseResult r = run_case(dir);
      const char* tag = r.outcome == Outcome::pass ? "PASS" : r.outcome == Outcome::fail ? "FAIL" : "UNSUPPORTED";
      if (verbose || r.outcome == Outcome::fail)
        std::printf("%-11s %s/%s%s%s\n", tag, suite, name.c_str(), r.detail.empty() ? "" : ": ", r.detail.substr(0, 300).c_str());
      // Single-op cases count toward that op; multi-op (expanded, models) under "(graph)".
      std::string key = r.ops.size() == 1 && std::string(suite) == "node" ? *r.ops.begin() : std::string("(") + suite + " multi-op)";
      OpCount& c = per_op[key];
      if (r.outcome == Outcome::pass) ++passed, ++sp, ++c.pass;
      else if (r.outcome == Outcome::fail) ++failed, ++sf, ++c.fail, failures.push_back(std::string(suite) + "/" + name);
      else ++unsupported, ++su, ++c.unsupported, unsupported_cases.insert(std::string(suite) + "/" + name);
    }
    std::printf("suite %-18s %4d passed, %4d failed, %4d unsupported\n", suite, sp, sf, su);
  }
  std::printf("\n%-28s %6s %6s %6s\n", "op", "pass", "fail", "unsup");
  for (auto& [op, c] : per_op) std::printf("%-28s %6d %6d %6d\n", op.c_str(), c.pass, c.fail, c.unsupported);
  std::printf("\n%d passed, %d failed (%d unsupported)\n", passed, failed, unsupported);
  if (!write_path.empty()) {
    FILE* f = std::fopen(write_path.c_str(), "w");
    if (!f) return 2;
    std::fprintf(f,
                 "# ONNX backend test cases pareto reports unsupported (tests/conformance/conformance_runner.cpp):\n"
                 "# a case that leaves this list by regressing, or by starting to run, fails onnx_conformance.\n"
                 "# Regenerate: build/tests/pareto_conformance /usr/share/libonnx-testdata/data --write-unsupported FILE\n");
    for (const std::string& c : unsupported_cases) std::fprintf(f, "%s\n", c.c_str());
    std::fclose(f);
  }
  int list_mismatches = 0;
  if (!expected_path.empty()) {
    std::set<std::string> expected;
    FILE* f = std::fopen(expected_path.c_str(), "r");
    if (!f) {
      std::printf("cannot read the expected-unsupported list %s\n", expected_path.c_str());
      return 2;
    }
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
      std::string l(line);
      while (!l.empty() && (l.back() == '\n' || l.back() == '\r' || l.back() == ' ')) l.pop_back();
      if (!l.empty() && l[0] != '#') expected.insert(l);
    }
    std::fclose(f);
    for (const std::string& c : unsupported_cases)
      if (!expected.count(c)) std::printf("REGRESSED   %s: unsupported now, not in %s\n", c.c_str(), expected_path.c_str()), ++list_mismatches;
    for (const std::string& c : expected)
      if (!unsupported_cases.count(c))
        std::printf("NOW RUNS    %s: listed as unsupported in %s; regenerate the list (--write-unsupported)\n", c.c_str(), expected_path.c_str()),
            ++list_mismatches;
    std::printf("%zu unsupported cases, %zu listed, %d differences\n", unsupported_cases.size(), expected.size(), list_mismatches);
  }
  return failed || list_mismatches ? 1 : 0;
}
