// Tensors from and to files: NumPy .npy (format versions 1-3, little-endian,
// C order) and ONNX TensorProto .pb (the ONNX test-data format). Readers check
// every size against the file and the limits (pareto/limits.hpp) before
// allocating.
#pragma once
#include <string>

#include "pareto/pareto.hpp"

namespace pareto {

Result<Tensor> read_npy(const std::string& path);
Status write_npy(const std::string& path, const Tensor& tensor);
// A serialized onnx.TensorProto; *name (optional) receives its name field.
Result<Tensor> read_tensor_pb(const std::string& path, std::string* name = nullptr);

}  // namespace pareto
