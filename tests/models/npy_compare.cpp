// npy_compare REF GOT [RTOL ATOL]: passes when every element has
// |got - ref| <= atol + rtol * |ref| (and shapes and dtypes agree); prints the
// largest absolute and relative differences either way. Each file is .npy or
// an ONNX TensorProto .pb (the backend test data's expected outputs).
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "frontend/onnx/onnx_loader.h"
#include "api/npy.h"

namespace {

pareto::Tensor read_tensor(const std::string& path) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".pb") == 0) return pareto::onnx::load_tensor_file(path);
  return pareto::api::read_npy(path);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: npy_compare REF.npy|REF.pb GOT.npy|GOT.pb [RTOL ATOL]\n");
    return 2;
  }
  double rtol = argc == 5 ? std::atof(argv[3]) : 1e-4, atol = argc == 5 ? std::atof(argv[4]) : 1e-5;
  try {
    pareto::Tensor ref = read_tensor(argv[1]);
    pareto::Tensor got = read_tensor(argv[2]);
    if (ref.dtype() != got.dtype() || ref.shape() != got.shape()) {
      std::printf("MISMATCH %s: %s%s vs %s%s\n", argv[2], pareto::dtype_name(ref.dtype()), pareto::shape_to_string(ref.shape()).c_str(),
                  pareto::dtype_name(got.dtype()), pareto::shape_to_string(got.shape()).c_str());
      return 1;
    }
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0, first_bad = -1;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      double r = ref.as_double(i), g = got.as_double(i), d = std::abs(r - g);
      if (std::isnan(r) != std::isnan(g)) d = INFINITY;
      max_abs = std::max(max_abs, d);
      if (r != 0) max_rel = std::max(max_rel, d / std::abs(r));
      if (!(d <= atol + rtol * std::abs(r))) {
        if (first_bad < 0) first_bad = i;
        ++bad;
      }
    }
    std::printf("%s %s: %lld elements, max abs diff %.3g, max rel diff %.3g, %lld outside rtol=%g atol=%g\n", bad ? "FAIL" : "ok",
                argv[2], static_cast<long long>(ref.numel()), max_abs, max_rel, static_cast<long long>(bad), rtol, atol);
    if (bad)
      std::printf("  first at %lld: ref %.9g got %.9g\n", static_cast<long long>(first_bad), ref.as_double(first_bad), got.as_double(first_bad));
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "npy_compare: %s\n", e.what());
    return 2;
  }
}
