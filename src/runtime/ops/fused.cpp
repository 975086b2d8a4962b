// pareto's fused matrix ops (domain "pareto", written by the compiler):
// FusedGemm / FusedMatMul run the plain op and apply the activation to its
// output in place, saving the activation node and its intermediate tensor.
// (FusedConv lives with Conv in nn.cpp: its activation runs per output block.)
#include "kernels/activation.h"
#include "runtime/op_registry.h"

namespace pareto::runtime {

namespace {

template <const char* Base>
void run_fused(OpContext& ctx) {
  static const OpDef* base = op_registry().find("", Base);
  base->run(ctx);
  kernels::Activation act;
  act.kind = kernels::act_kind_by_name(ctx.node.attr_s("activation", ""));
  act.alpha = ctx.node.attr_f("alpha", 0.f);
  act.beta = ctx.node.attr_f("beta", 0.f);
  if (act.kind == kernels::ActKind::none) ctx.unsupported("fused activation '" + ctx.node.attr_s("activation", "") + "'");
  Tensor& y = ctx.outputs[0];
  if (y.dtype() != DType::f32) ctx.unsupported(std::string("fused activation on ") + dtype_name(y.dtype()));
  kernels::apply_activation(act, y.data<float>(), nullptr, y.numel());
}

constexpr char kGemm[] = "Gemm";
constexpr char kMatMul[] = "MatMul";

}  // namespace

void register_fused_ops(OpRegistry& r) {
  r.add("FusedGemm", run_fused<kGemm>, r.find("", "Gemm") ? r.find("", "Gemm")->infer : nullptr);
  r.add("FusedMatMul", run_fused<kMatMul>, r.find("", "MatMul") ? r.find("", "MatMul")->infer : nullptr);
}

}  // namespace pareto::runtime
