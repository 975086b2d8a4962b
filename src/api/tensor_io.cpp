#include "pareto/tensor_io.hpp"

#include "api/guarded.h"
#include "api/npy.h"
#include "frontend/onnx/onnx_loader.h"

namespace pareto {

Result<Tensor> read_npy(const std::string& path) {
  return guarded([&] { return api::read_npy(path); });
}

Status write_npy(const std::string& path, const Tensor& tensor) {
  return guarded([&] {
           api::write_npy(path, tensor);
           return true;
         })
      .status();
}

Result<Tensor> read_tensor_pb(const std::string& path, std::string* name) {
  return guarded([&] { return onnx::load_tensor_file(path, name); });
}

}  // namespace pareto
