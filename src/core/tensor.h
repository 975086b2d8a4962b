#pragma once
#include <string>

#include "pareto/tensor.h"

namespace pareto {

// A shape a file declares (ONNX value_info, a .pareto value type): its known
// dims (>= 0; -1 is unknown) must multiply to at most the tensor-elements
// limit, so static shape inference never multiplies values near 2^63 and a
// declared size is one that could be allocated.
void check_declared_shape(const Shape& dims, const std::string& what);

}  // namespace pareto
