// NumPy .npy files (format versions 1-3, little-endian, C order); these
// throw, the public pareto/tensor_io.hpp wraps them.
#pragma once
#include <string>

#include "pareto/tensor.h"

namespace pareto::api {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace pareto::api
