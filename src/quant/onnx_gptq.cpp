#include "quant/onnx_gptq.h"

#include <algorithm>
#include <cmath>

#include "kernels/int8_conv.h"

namespace pareto::quant {

namespace {

// The uint8 grid DynamicQuantizeLinear puts x on: [min(x, 0), max(x, 0)]
// over 255 steps, the zero point rounded (non-finite values left out).
UInt8Grid dynamic_grid(const Tensor& x) {
  float lo = 0, hi = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const float v = x.data<float>()[i];
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  const float scale = float((double(hi) - double(lo)) / 255.0);
  if (!(scale > 0)) return {1.f, 0};
  return {scale, int32_t(std::clamp(std::nearbyint(-lo / scale), 0.f, 255.f))};
}

// Mean squared difference between y put on the grid (as the int8 layer reads
// it) and x; 0 when the two are not alike (shapes computed from the data).
double grid_error(const Tensor& x, const Tensor& y, const UInt8Grid& grid) {
  if (x.dtype() != DType::f32 || y.dtype() != DType::f32 || x.numel() != y.numel() || x.numel() == 0) return 0;
  double sum = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int32_t q = kernels::quantize_value(y.data<float>()[i] / grid.scale, grid.zero, 0, 255);
    const double d = double(float(q - grid.zero) * grid.scale) - double(x.data<float>()[i]);
    if (std::isfinite(d)) sum += d * d;
  }
  return sum / double(x.numel());
}

}  // namespace

std::map<int, double> input_noise_variance(const ir::Model& clean, const ir::Model& rounded, const std::vector<int>& inputs,
                                           const std::map<int, UInt8Grid>& grids, const std::vector<InputSample>& samples) {
  std::vector<int> tensors = inputs;
  std::sort(tensors.begin(), tensors.end());
  tensors.erase(std::unique(tensors.begin(), tensors.end()), tensors.end());
  ir::Model a = clean, b = rounded;  // the graphs are shared: outputs are added to copies
  a.graph = std::make_shared<ir::Graph>(*clean.graph);
  b.graph = std::make_shared<ir::Graph>(*rounded.graph);
  const size_t first_a = a.graph->outputs.size(), first_b = b.graph->outputs.size();
  for (int t : tensors) {
    a.graph->outputs.push_back(t);
    b.graph->outputs.push_back(t);
  }
  std::map<int, double> variance;
  for (int t : tensors) variance[t] = 0;
  if (samples.empty()) return variance;
  for (const InputSample& s : samples) {
    const std::vector<Tensor> xa = run_model(a, s), xb = run_model(b, s);
    for (size_t k = 0; k < tensors.size(); ++k) {
      const Tensor &x = xa[first_a + k], &y = xb[first_b + k];
      auto it = grids.find(tensors[k]);
      variance[tensors[k]] += grid_error(x, y, it != grids.end() ? it->second : (y.dtype() == DType::f32 ? dynamic_grid(y) : UInt8Grid{}));
    }
  }
  for (auto& [t, v] : variance) v /= double(samples.size());
  return variance;
}

}  // namespace pareto::quant
