// A depthwise conv that fold_qdq marked with w_scales (int8 weights, zero
// point 0) on the uint8 grid: the codes four at a time, per-row sums and per-channel
// scales the integer plane kernel (kernels/u8_depthwise.h) takes.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "kernels/u8_depthwise.h"
#include "runtime/ops/cache_stamps.h"
#include "runtime/ops/conv_params.h"

namespace pareto::runtime {

namespace {

struct DepthwiseInt8Plan {
  bool usable = false;            // false: the weights are not the int8 codes times w_scales (the float kernel runs)
  std::vector<int32_t> quads;     // [c_out][kh][tap groups]
  std::vector<int32_t> row_sums;  // [c_out][kh]
  std::vector<float> scale;       // x_scale * w_scale per channel
};

// The integer kernel only where it computes what the float one does, up
// to float rounding: one finite normal scale per output channel (as
// fold_qdq sets them; a model or artifact may carry others, and a folded
// BatchNorm may have pushed one out of range) and every weight within
// 1/1024 of a step of its code times its channel's scale. fold_conv_affine
// keeps weights exactly on their grid when it folds a BatchNorm in, but a
// model or artifact may carry weights scaled apart from their scales by a
// rounding (w / scale some 1e-7 of a step off the code, as that pass once
// left PP-OCR's depthwise convs); a weight a real fraction of a step off
// the grid does not sum as its code. Otherwise the plan is marked unusable
// and the node keeps the float plane kernel, on every CPU alike.
std::shared_ptr<const DepthwiseInt8Plan> make_plan(const OpContext& ctx, const kernels::ConvParams& p, const Tensor& w) {
  auto plan = std::make_shared<DepthwiseInt8Plan>();
  const ir::Attribute* a = ctx.node.attr("w_scales");
  const int64_t taps = p.kh * p.kw;
  if (!a || a->kind != ir::AttrKind::floats || int64_t(a->floats.size()) != p.c_out || w.numel() != p.c_out * taps) return plan;
  for (float s : a->floats)
    if (!std::isnormal(s) || !std::isfinite(128.f * s)) return plan;
  std::vector<int8_t> codes(size_t(p.c_out * taps));
  plan->row_sums.assign(size_t(p.c_out * p.kh), 0);
  const float* wf = w.data<float>();
  for (int64_t oc = 0; oc < p.c_out; ++oc) {
    const float s = a->floats[size_t(oc)];
    for (int64_t t = 0; t < taps; ++t) {
      const int8_t q = weight_code(wf[oc * taps + t], s);
      if (!(std::abs(double(wf[oc * taps + t]) / s - q) <= 1.0 / 1024)) return plan;  // NaN weights fail too
      codes[size_t(oc * taps + t)] = q;
      plan->row_sums[size_t(oc * p.kh + t / p.kw)] += q;
    }
    plan->scale.push_back(p.quant_in.scale * s);
  }
  const int64_t per_channel = p.kh * kernels::u8_depthwise_tap_groups(p.kw);
  plan->quads.resize(size_t(p.c_out * per_channel));
  for (int64_t oc = 0; oc < p.c_out; ++oc)
    kernels::u8_depthwise_weight_quads(codes.data() + oc * taps, p.kh, p.kw, plan->quads.data() + oc * per_channel);
  plan->usable = true;
  return plan;
}

}  // namespace

std::shared_ptr<const void> use_depthwise_int8_weights(const OpContext& ctx, kernels::ConvParams& p, const Tensor& w) {
  std::shared_ptr<const void> held = prepared_once(ctx, 1, stamps::kDepthwiseInt8Plan, [&]() -> std::shared_ptr<const void> { return make_plan(ctx, p, w); });
  const auto& plan = *static_cast<const DepthwiseInt8Plan*>(held.get());
  if (!plan.usable) return nullptr;
  p.int8_weights.quads = plan.quads.data();
  p.int8_weights.row_sums = plan.row_sums.data();
  p.int8_weights.scale = plan.scale.data();
  return held;
}

}  // namespace pareto::runtime
