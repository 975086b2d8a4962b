// NumPy .npy files (format versions 1-3, little-endian, C order).
#pragma once
#include <string>

#include "pareto/tensor.h"

namespace pareto::tools {

Tensor read_npy(const std::string& path);
void write_npy(const std::string& path, const Tensor& t);

}  // namespace pareto::tools
