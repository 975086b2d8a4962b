#include "kernels/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/cpu.h"
#include "core/dtype.h"
#include "kernels/int8_conv.h"
#include "kernels/llm_ops.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_dot.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

namespace {

// The reference "packing": A copied row-major with alpha applied.
size_t ref_packed_a_floats(int64_t m, int64_t k) { return size_t(m) * size_t(k); }
void ref_pack_a(const GemmArgs& g, float* packed) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t p = 0; p < g.k; ++p) packed[i * g.k + p] = g.alpha * (g.trans_a ? g.a[p * g.lda + i] : g.a[i * g.lda + p]);
}
void ref_gemm_packed(const GemmArgs& g, const float* packed) {
  GemmArgs h = g;
  h.a = packed;
  h.lda = g.k;
  h.trans_a = false;
  h.alpha = 1.f;
  f32_gemm_ref(h);
}

KernelTable make_table(IsaLevel level) {
  KernelTable t;
  t.level = level;
  t.f32_gemm = f32_gemm_ref;
  t.packed_a_floats = ref_packed_a_floats;
  t.pack_a = ref_pack_a;
  t.f32_gemm_packed = ref_gemm_packed;
  if constexpr (kBuildX86) {
    if (level == IsaLevel::avx512) {
      t.f32_gemm = avx512::f32_gemm_blocked;
      t.packed_a_floats = avx512::packed_a_floats;
      t.pack_a = avx512::pack_a_all;
      t.f32_gemm_packed = avx512::f32_gemm_blocked_packed;
    } else if (level == IsaLevel::avx2) {
      t.f32_gemm = avx2::f32_gemm_blocked;
      t.packed_a_floats = avx2::packed_a_floats;
      t.pack_a = avx2::pack_a_all;
      t.f32_gemm_packed = avx2::f32_gemm_blocked_packed;
    }
  }
  if constexpr (kBuildArm64) {
    if (level == IsaLevel::neon) {
      t.f32_gemm = neon::f32_gemm_blocked;
      t.packed_a_floats = neon::packed_a_floats;
      t.pack_a = neon::pack_a_all;
      t.f32_gemm_packed = neon::f32_gemm_blocked_packed;
    }
  }
  return t;
}

bool isa_env_is(const char* name) {
  const char* env = std::getenv("PARETO_ISA");
  return env && !std::strcmp(env, name);
}

IsaLevel initial_level() {
  IsaLevel level = best_isa_level();
  if (isa_env_is("ref")) level = IsaLevel::ref;
  else if (isa_env_is("avx2") && kBuildX86 && level >= IsaLevel::avx2) level = IsaLevel::avx2;
  return level;
}

const KernelTable& table() {
  static const KernelTable t = make_table(initial_level());
  return t;
}

}  // namespace

// PARETO_AMX=0 keeps batches on the AVX-512 kernels (to compare the two);
// PARETO_ISA=ref / avx2 also leaves AMX off.
bool amx_allowed() {
  const char* amx = std::getenv("PARETO_AMX");
  const char* isa = std::getenv("PARETO_ISA");
  return !(amx && !std::strcmp(amx, "0")) && !(isa && (!std::strcmp(isa, "ref") || !std::strcmp(isa, "avx2")));
}

IsaLevel best_isa_level() {
  const CpuFeatures& f = cpu_features();
  if (kBuildArm64 && f.neon) return IsaLevel::neon;
  if (!kBuildX86) return IsaLevel::ref;
  if (f.avx512f && f.avx512bw && f.avx512vl && f.fma) return IsaLevel::avx512;
  if (f.avx2 && f.fma && f.f16c) return IsaLevel::avx2;
  return IsaLevel::ref;
}

const char* isa_level_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::avx512: return "avx512";
    case IsaLevel::avx2: return "avx2";
    case IsaLevel::neon: return "neon";
    default: return "ref";
  }
}

const KernelTable& kernel_table() { return table(); }

const KernelTable* kernel_table_for(IsaLevel level) {
  static const KernelTable tables[] = {make_table(IsaLevel::ref), make_table(IsaLevel::avx2), make_table(IsaLevel::avx512),
                                       make_table(IsaLevel::neon)};
  const IsaLevel best = best_isa_level();
  const bool have = level == IsaLevel::ref || level == best || (best != IsaLevel::neon && level < best);
  return have ? &tables[int(level)] : nullptr;
}

std::string kernel_summary() {
  const QuantDotTable& q = quant_dot_table();
  const HalfGemmFn half = q.half_gemm;
  const char* half_isa = !half ? "f32_gemm" : kBuildArm64 ? "neon" : "avx512";
  const char* bf16_batch = q.bf16_tiles ? "amx_bf16" : half_isa;
  if constexpr (kBuildX86)
    if (!q.bf16_tiles && half && half == avx512bf16::half_gemm) bf16_batch = "avx512bf16";
  return std::string("f32_gemm=") + isa_level_name(kernel_table().level) + " q8a_dot=" + q.isa + " w8a8_rows=" + q.q8_row_isa +
         " packed(q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k iq4_nl "
         "iq4_xs)=" +
         (packed_weights_preferred() ? q.isa : "off") +
         (packed_weights_preferred() && !packed_type_preferred(uint32_t(GgmlType::q6_k)) ? " (q6_k: row dots)" : "") + (packed_gemm_tiles_fn() ? " packed_batch=amx_int8" : "") +
         " group_formats=" + (q.codes_dot == q8a_codes_dot_ref ? "ref" : q.isa) + " f16_batch=" + half_isa + " bf16_batch=" + bf16_batch + " " + conv_kernel_summary();
}

void f32_gemm(const GemmArgs& args) { kernel_table().f32_gemm(args); }
size_t f32_gemm_packed_a_floats(int64_t m, int64_t k) { return kernel_table().packed_a_floats(m, k); }
int64_t f32_gemm_panel_columns() { return kBuildX86 && kernel_table().level == IsaLevel::avx512 ? 48 : 32; }
void f32_gemm_pack_a(const GemmArgs& g, float* packed) { kernel_table().pack_a(g, packed); }
void f32_gemm_packed(const GemmArgs& g, const float* packed) { kernel_table().f32_gemm_packed(g, packed); }

void f32_to_f16_row(const float* x, uint16_t* y, int64_t n) {
  if (auto f = quant_dot_table().to_f16) return f(x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_half(x[i]);
}

void f16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
  if (auto f = quant_dot_table().from_f16) return f(x, y, n);
  for (int64_t i = 0; i < n; ++i) y[i] = half_to_float(x[i]);
}

void f16kv_attention_head(const float* q, const uint16_t* k, const uint16_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                          float* scratch, float* out) {
  auto f = quant_dot_table().attention_f16;
  if (f && head_dim % 8 == 0) return f(q, k, v, n_pos, head_dim, stride, scratch, out);
  f16kv_attention_head_ref(q, k, v, n_pos, head_dim, stride, scratch, out);
}

void q8kv_attention_head(const float* q, const uint8_t* k, const uint8_t* v, int64_t n_pos, int64_t head_dim, int64_t stride,
                         float* scratch, float* out) {
  auto f = quant_dot_table().attention_q8;
  if (f && head_dim % 16 == 0) return f(q, k, v, n_pos, head_dim, stride, scratch, out);
  q8kv_attention_head_ref(q, k, v, n_pos, head_dim, stride, scratch, out);
}

namespace {

// The eight quantized-weight dots of one ISA namespace, named once.
#define PARETO_QUANT_DOTS_OF(name, ns)                                                                            \
  struct name {                                                                                                   \
    static void take(QuantDotTable& t) {                                                                          \
      t.q4_0 = ns::q8a_q4_0_dot, t.q8_0 = ns::q8a_q8_0_dot, t.q4_k = ns::q8a_q4_k_dot, t.q6_k = ns::q8a_q6_k_dot; \
      t.q5_0 = ns::q8a_q5_0_dot, t.q4_1 = ns::q8a_q4_1_dot, t.q5_k = ns::q8a_q5_k_dot, t.q3_k = ns::q8a_q3_k_dot; \
    }                                                                                                             \
  };
// Inline and called only behind `if constexpr`: another architecture's
// functions are declared, never emitted or linked.
PARETO_QUANT_DOTS_OF(avx512vnni_dots, avx512vnni)
PARETO_QUANT_DOTS_OF(neon_dots, neon)
PARETO_QUANT_DOTS_OF(dotprod_dots, dotprod)
#undef PARETO_QUANT_DOTS_OF

// Each chooser's body names only its own architecture's kernels, behind
// `if constexpr`, so the other build links none of them.
void choose_arm_quant_dots([[maybe_unused]] QuantDotTable& t) {
  if constexpr (kBuildArm64) {
    const CpuFeatures& f = cpu_features();
    if (isa_env_is("ref") || !f.neon) return;
    t.isa = "neon";
    t.quantize = neon::f32_q8a_quantize;
    neon_dots::take(t);
    t.f16 = neon::f32_f16_dot;
    t.bf16 = neon::f32_bf16_dot;
    t.f16_rows = neon::f16_rows_dot;
    t.bf16_rows = neon::bf16_rows_dot;
    t.f32_rows = neon::f32_rows_dot;
    t.to_f16 = neon::f32_to_f16;
    t.from_f16 = neon::f16_to_f32;
    t.attention_f16 = neon::f16kv_attention_head;
    t.attention_q8 = neon::q8kv_attention_head;
    t.group_unpack = neon::group_unpack;
    t.codes_dot = neon::q8a_codes_dot;
    t.quantize_token = neon::f32_q8tok_quantize;
    t.half_gemm = neon::half_gemm;
    if (isa_env_is("neon") || !f.dotprod) return;
    t.isa = "dotprod";
    dotprod_dots::take(t);
    t.codes_dot = dotprod::q8a_codes_dot;
    t.q8_row = dotprod::q8_row_gemm;
    t.q8_row_isa = "dotprod";
    if (isa_env_is("dotprod") || !f.i8mm) return;
    t.q8_row = i8mm::q8_row_gemm;
    t.q8_row_isa = "i8mm";
    // Seam for SME2 (and SVE2 widths): not built yet; i8mm stays the best level.
  }
}

void choose_x86_quant_dots([[maybe_unused]] QuantDotTable& t) {
  if constexpr (kBuildX86) {
    const CpuFeatures& f = cpu_features();
    const bool force_ref = isa_env_is("ref");
    const bool force_avx2 = isa_env_is("avx2");
    if (!force_ref && !force_avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.f16c && f.fma) {
      t.isa = "avx512vnni";
      t.quantize = avx512vnni::f32_q8a_quantize;
      avx512vnni_dots::take(t);
      t.f16 = avx512vnni::f32_f16_dot;
      t.bf16 = avx512vnni::f32_bf16_dot;
      t.f16_rows = avx512vnni::f16_rows_dot;
      t.bf16_rows = avx512vnni::bf16_rows_dot;
      t.f32_rows = avx512vnni::f32_rows_dot;
      t.half_gemm = f.avx512bf16 ? avx512bf16::half_gemm : avx512vnni::half_gemm;
      if (f.amx_bf16 && amx_allowed() && amx_tile_state_granted()) t.bf16_tiles = amx::bf16_gemm;
      t.quantize_token = avx512vnni::f32_q8tok_quantize;
      t.q8_row = avx512vnni::q8_row_gemm;
      t.codes_dot = avx512vnni::q8a_codes_dot;
      if (f.avx512vbmi) t.group_unpack = avx512vnni::group_unpack_vbmi;
      else if (f.bmi2) t.group_unpack = avx512vnni::group_unpack_pdep;
      t.to_f16 = avx512vnni::f32_to_f16;
      t.from_f16 = avx512vnni::f16_to_f32;
      t.attention_f16 = avx512vnni::f16kv_attention_head;
      t.attention_q8 = avx512vnni::q8kv_attention_head;
      t.q8_row_isa = "avx512vnni";
    } else if (!force_ref && f.avx2 && f.fma && f.f16c) {
      // No VNNI: AVX2 for the commonest types, the reference for the rest.
      t.isa = "avx2";
      t.q4_0 = avx2::q8a_q4_0_dot;
      t.q8_0 = avx2::q8a_q8_0_dot;
      t.f16 = avx2::f32_f16_dot;
    }
  }
}

}  // namespace

const QuantDotTable& quant_dot_table() {
  static const QuantDotTable table = [] {
    QuantDotTable t;
    if constexpr (kBuildX86) choose_x86_quant_dots(t);
    if constexpr (kBuildArm64) choose_arm_quant_dots(t);
    return t;
  }();
  return table;
}

PackedGemmFn packed_gemm_fn() {
  static const PackedGemmFn fn = [] {
    const char* isa = quant_dot_table().isa;
    if constexpr (kBuildX86)
      if (!std::strcmp(isa, "avx512vnni")) return avx512vnni::packed_gemm;
    if constexpr (kBuildArm64) {
      if (!std::strcmp(isa, "dotprod")) return dotprod::packed_gemm;
      if (!std::strcmp(isa, "neon")) return neon::packed_gemm;
    }
    return packed_gemm_ref;
  }();
  return fn;
}

PackedGemmFn packed_gemm_tiles_fn() {
  static const PackedGemmFn fn = [] {
    if constexpr (kBuildX86)
      if (packed_weights_preferred() && cpu_features().amx_int8 && amx_allowed() && amx_tile_state_granted()) return amx::packed_gemm;
    return static_cast<PackedGemmFn>(nullptr);
  }();
  return fn;
}

bool packed_weights_preferred() { return packed_gemm_fn() != packed_gemm_ref; }

bool packed_type_preferred(uint32_t ggml_type) {
  const std::optional<PackedKind> kind = packed_kind_for(ggml_type);
  return kind && packed_weights_preferred() && !(kBuildArm64 && *kind == PackedKind::q6_k);
}

}  // namespace pareto::kernels
