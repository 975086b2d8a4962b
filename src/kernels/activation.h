// Activations fused into the producing kernel's epilogue (conv, GEMM): they
// run on a block of output while it is still in cache, optionally after
// adding a residual tensor of the same layout.
#pragma once
#include <cstdint>
#include <limits>
#include <string>

namespace pareto::kernels {

enum class ActKind { none, relu, clip, hard_sigmoid, hard_swish, sigmoid, silu, tanh, leaky_relu };

struct Activation {
  ActKind kind = ActKind::none;
  float alpha = 0, beta = 0;  // clip: [alpha, beta]; hard_sigmoid: alpha*x+beta; leaky_relu: alpha
  // Then y = scale * y + shift: a per-tensor affine after the activation
  // (PP-LCNetV3's learnable affine blocks), then y = max(y, floor) (a Max
  // by a constant: openWakeWord's embedding follows every LeakyReLU with
  // max(y, -0.4)); both fused by the compiler.
  float scale = 1, shift = 0;
  float floor = -std::numeric_limits<float>::infinity();
  bool has_affine() const { return scale != 1.f || shift != 0.f; }
  bool has_floor() const { return floor != -std::numeric_limits<float>::infinity(); }
  bool has_post() const { return has_affine() || has_floor(); }
};

// "Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "SiLU", "Tanh",
// "LeakyRelu" (ONNX op names; SiLU is pareto's); unknown names -> none.
ActKind act_kind_by_name(const std::string& name);
const char* act_kind_name(ActKind k);

// y[i] = max(scale * act(y[i] + (residual ? residual[i] : 0)) + shift, floor) for i in [0, n)
// (a NaN stays NaN, as ONNX's Max with it first).
void apply_activation(const Activation& a, float* y, const float* residual, int64_t n);

// Whether the ISA epilogues have the activation in vector form (tanh does
// not: it stays with the generic loop); the kernels that apply one in
// registers (the int8 conv's epilogue, the integer depthwise conv) take
// only these.
inline bool has_vector_form(ActKind kind) { return kind != ActKind::tanh; }

// The generic loop: the reference twin of the ISA versions.
void apply_activation_generic(const Activation& a, float* y, const float* residual, int64_t n);
namespace avx512 {
// Returns false for the kinds it leaves to the generic loop (exp, tanh).
bool apply_activation(const Activation& a, float* y, const float* residual, int64_t n);
void silu_mul(float* gate, const float* up, int64_t n);  // twin of f32_silu_mul_ref (kernels/llm_ops.h)
}  // namespace avx512
namespace neon {  // the same at 4 lanes (arm/activation_neon.cpp)
bool apply_activation(const Activation& a, float* y, const float* residual, int64_t n);
void silu_mul(float* gate, const float* up, int64_t n);
}  // namespace neon

// What a conv/GEMM epilogue needs: the activation and an optional residual
// with the same layout as the output.
struct Epilogue {
  Activation act;
  const float* residual = nullptr;
  bool active() const { return act.kind != ActKind::none || residual != nullptr || act.has_post(); }
};

}  // namespace pareto::kernels
