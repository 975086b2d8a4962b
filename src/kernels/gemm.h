// f32 GEMM: C = alpha * op(A) * op(B) + beta * C, row-major with leading
// dimensions. One entry point for the whole engine (conv, MatMul, Gemm,
// LSTM, and later the LLM path); the ISA variant is picked once at start-up.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pareto::kernels {

struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.f;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float beta = 0.f;
  float* c = nullptr;
  int64_t ldc = 0;
  // B (not transposed) may be read up to a multiple of 16 columns past n
  // in every row (a lowered conv's scratch, its pad columns zeroed): the
  // GEMM then reads a ragged last panel in place instead of packing it.
  bool b_rows_padded = false;
};

using GemmFn = void (*)(const GemmArgs&);

// Portable scalar reference: the oracle in tests.
void f32_gemm_ref(const GemmArgs& args);
// Cache-blocked register-tiled variants built with their ISA's flags.
namespace avx2 { void f32_gemm_blocked(const GemmArgs& args); }
namespace avx512 { void f32_gemm_blocked(const GemmArgs& args); }

// Dispatched entry point.
void f32_gemm(const GemmArgs& args);

// A packed once for many products with the same A (a convolution's constant
// weights): the packing the GEMM would otherwise redo on every call. The
// layout is the dispatched variant's own, so a packed A is only valid for
// the kernel_table() level it was made at (callers keep the level with it).
// pack reads g.m, g.k, g.a, g.lda, g.trans_a and g.alpha; the packed
// product ignores g.a, g.lda, g.trans_a and g.alpha.
size_t f32_gemm_packed_a_floats(int64_t m, int64_t k);
// Columns that column blocks of the dispatched GEMM come in: 48, its 8 x
// 48 register tile, with AVX-512; elsewhere 32, a multiple of the AVX2 (16)
// and NEON (8) tiles. A multiple of it leaves no narrow last panel.
int64_t f32_gemm_panel_columns();
void f32_gemm_pack_a(const GemmArgs& g, float* packed);
void f32_gemm_packed(const GemmArgs& g, const float* packed);
namespace avx2 {
size_t packed_a_floats(int64_t m, int64_t k);
void pack_a_all(const GemmArgs& g, float* packed);
void f32_gemm_blocked_packed(const GemmArgs& g, const float* packed);
}  // namespace avx2
namespace avx512 {
size_t packed_a_floats(int64_t m, int64_t k);
void pack_a_all(const GemmArgs& g, float* packed);
void f32_gemm_blocked_packed(const GemmArgs& g, const float* packed);
}  // namespace avx512
namespace neon {  // AArch64 (kernels/arm/gemm_neon.cpp)
void f32_gemm_blocked(const GemmArgs& args);
size_t packed_a_floats(int64_t m, int64_t k);
void pack_a_all(const GemmArgs& g, float* packed);
void f32_gemm_blocked_packed(const GemmArgs& g, const float* packed);
}  // namespace neon

}  // namespace pareto::kernels
