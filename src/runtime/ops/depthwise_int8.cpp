// A depthwise conv that fold_qdq marked with w_scales (int8 weights, zero
// point 0) on the uint8 grid: the codes, per-row sums and per-channel
// scales the integer plane kernel (kernels/u8_depthwise.h) takes.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/u8_depthwise.h"
#include "runtime/ops/conv_params.h"

namespace pareto::runtime {

namespace {

struct DepthwiseInt8Plan {
  std::vector<int8_t> codes;      // [c_out][kh * kw]
  std::vector<int32_t> quads;     // [c_out][kh][tap groups]
  std::vector<int32_t> row_sums;  // [c_out][kh]
  std::vector<float> scale;       // x_scale * w_scale per channel
};

std::shared_ptr<const DepthwiseInt8Plan> make_plan(const OpContext& ctx, const kernels::ConvParams& p, const Tensor& w) {
  const std::vector<float> w_scales = ctx.node.attr_floats("w_scales");
  if (int64_t(w_scales.size()) != p.c_out)
    ctx.invalid("w_scales holds " + std::to_string(w_scales.size()) + " scales for " + std::to_string(p.c_out) + " output channels");
  for (float s : w_scales)
    if (!std::isfinite(s)) ctx.invalid("w_scales holds a value that is not finite");
  const int64_t taps = p.kh * p.kw;
  if (w.numel() != p.c_out * taps) ctx.invalid("depthwise weights hold " + std::to_string(w.numel()) + " values, not c_out * kh * kw");
  auto plan = std::make_shared<DepthwiseInt8Plan>();
  plan->codes.resize(size_t(p.c_out * taps));
  plan->row_sums.assign(size_t(p.c_out * p.kh), 0);
  const float* wf = w.data<float>();
  for (int64_t oc = 0; oc < p.c_out; ++oc) {
    const float s = w_scales[size_t(oc)];
    for (int64_t t = 0; t < taps; ++t) {
      const int8_t q = weight_code(wf[oc * taps + t], s);
      plan->codes[size_t(oc * taps + t)] = q;
      plan->row_sums[size_t(oc * p.kh + t / p.kw)] += q;
    }
    plan->scale.push_back(p.quant_in.scale * s);
  }
  const int64_t per_channel = p.kh * kernels::u8_depthwise_tap_groups(p.kw);
  plan->quads.resize(size_t(p.c_out * per_channel));
  for (int64_t oc = 0; oc < p.c_out; ++oc)
    kernels::u8_depthwise_weight_quads(plan->codes.data() + oc * taps, p.kh, p.kw, plan->quads.data() + oc * per_channel);
  return plan;
}

}  // namespace

std::shared_ptr<const void> use_depthwise_int8_weights(const OpContext& ctx, kernels::ConvParams& p, const Tensor& w) {
  std::shared_ptr<const void> held = prepared_once(ctx, 1, (1 << 20) + 2, [&]() -> std::shared_ptr<const void> { return make_plan(ctx, p, w); });
  const auto& plan = *static_cast<const DepthwiseInt8Plan*>(held.get());
  p.int8_weights.codes = plan.codes.data();
  p.int8_weights.quads = plan.quads.data();
  p.int8_weights.row_sums = plan.row_sums.data();
  p.int8_weights.scale = plan.scale.data();
  return held;
}

}  // namespace pareto::runtime
