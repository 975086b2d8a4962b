// Activation ranges for static int8 quantization of ONNX models: each
// calibrated tensor's values over the calibration samples are summarized
// (exact min/max, then a histogram of |x|), and a method turns the summary
// into the range [lo, hi] that uint8 (asymmetric) quantization maps onto
// 0..255:
//   minmax      the whole observed range;
//   percentile  clip |x| at the given percentile of its distribution;
//   entropy     the clip threshold whose quantized distribution is closest
//               to the observed one in KL divergence (TensorRT's method);
//   mse         the clip threshold with the least expected squared error
//               (rounding inside the range + clipping outside).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pareto::quant {

enum class CalibMethod { minmax, percentile, entropy, mse };
CalibMethod calib_method_by_name(const std::string& name);  // throws naming the choices
const char* calib_method_name(CalibMethod m);

class RangeObserver {
 public:
  static constexpr int kBins = 2048;
  // Pass 1: exact extremes.
  void observe_extremes(const float* x, int64_t n);
  // Pass 2 (after every pass-1 call): the histogram of |x| over [0, max |x|].
  void observe_histogram(const float* x, int64_t n);
  float lo() const { return lo_; }
  float hi() const { return hi_; }
  bool seen() const { return seen_; }
  // [lo, hi], containing 0 (zero must be exact in uint8), never empty.
  void range(CalibMethod method, double percentile, float* lo, float* hi) const;

 private:
  float clip_threshold(CalibMethod method, double percentile) const;
  float lo_ = 0, hi_ = 0;
  bool seen_ = false;
  std::vector<uint64_t> hist_;
  uint64_t negative_ = 0;  // values below zero seen by the histogram pass
  uint64_t zeros_ = 0;     // exact zeros among them (in bin 0 too)
};

// scale = (hi - lo) / 255 and the uint8 zero point for [lo, hi] (lo <= 0 <= hi).
void uint8_params(float lo, float hi, float* scale, uint8_t* zero);

}  // namespace pareto::quant
