#include "quant/onnx_gptq.h"

#include <algorithm>
#include <cmath>

#include "quant/layer_gptq.h"

namespace pareto::quant {

std::map<int, double> input_noise_variance(const ir::Model& clean, const ir::Model& rounded, const std::vector<int>& inputs,
                                           const std::map<int, float>& steps, const std::vector<InputSample>& samples) {
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
      double mse = 0;
      if (x.dtype() == DType::f32 && y.dtype() == DType::f32 && x.numel() == y.numel() && x.numel() > 0) {
        for (int64_t i = 0; i < x.numel(); ++i) {
          const double d = double(y.data<float>()[i]) - double(x.data<float>()[i]);
          if (std::isfinite(d)) mse += d * d;
        }
        mse /= double(x.numel());
      }
      auto it = steps.find(tensors[k]);
      const double step = it != steps.end() ? double(it->second) : (y.dtype() == DType::f32 ? dynamic_step(y) : 0.0);
      variance[tensors[k]] += mse + step * step / 12.0;
    }
  }
  for (auto& [t, v] : variance) v /= double(samples.size());
  return variance;
}

}  // namespace pareto::quant
