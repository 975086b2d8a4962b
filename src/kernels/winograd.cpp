// Winograd F(4x4, 3x3) for the convolutions where it pays: the weight
// transform U = G g G^T (done once per model load) and the shape rule.
// The kernels are AVX-512 (x86/winograd_avx512.cpp) and NEON
// (arm/winograd_neon.cpp); elsewhere the im2col path runs, and
// f32_conv2d_ref is the reference all are tested on.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/conv.h"
#include "kernels/dispatch.h"
#include "kernels/gemm.h"

namespace pareto::kernels {

namespace {
// PARETO_WINOGRAD=0 keeps every conv on the direct (im2col) sums, whose
// rounding is closer to other engines' (Winograd's is ~1e-5 of the scale).
bool winograd_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("PARETO_WINOGRAD");
    return !(env && !std::strcmp(env, "0"));
  }();
  return on;
}
}  // namespace

bool winograd_applicable(const ConvParams& p) {
  if (!winograd_enabled()) return false;
  // Below ~16 channels either way the transforms cost more than the 4x
  // fewer multiplies save; narrow outputs waste most of a 16-tile vector.
  const IsaLevel level = kernel_table().level;
  return (level == IsaLevel::avx512 || level == IsaLevel::neon) && p.group == 1 && p.kh == 3 && p.kw == 3 && p.stride_h == 1 &&
         p.stride_w == 1 && p.dil_h == 1 && p.dil_w == 1 && p.c_in >= 16 && p.c_out >= 16 && p.out_w >= 48 && p.out_h >= 8;
}

size_t winograd_weights_floats(const ConvParams& p) { return 36 * f32_gemm_packed_a_floats(p.c_out, p.c_in); }

void winograd_transform_weights(const ConvParams& p, const float* w, float* packed) {
  static const double G[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  const int64_t co = p.c_out, ci = p.c_in;
  std::vector<float> u(size_t(36 * co * ci));  // u[xi][oc][ic]
  for (int64_t oc = 0; oc < co; ++oc)
    for (int64_t ic = 0; ic < ci; ++ic) {
      const float* g = w + (oc * ci + ic) * 9;
      double gg[6][3];  // G g
      for (int a = 0; a < 6; ++a)
        for (int j = 0; j < 3; ++j) gg[a][j] = G[a][0] * g[j] + G[a][1] * g[3 + j] + G[a][2] * g[6 + j];
      for (int a = 0; a < 6; ++a)
        for (int k = 0; k < 6; ++k)
          u[size_t(((a * 6 + k) * co + oc) * ci + ic)] = float(gg[a][0] * G[k][0] + gg[a][1] * G[k][1] + gg[a][2] * G[k][2]);
    }
  const size_t each = f32_gemm_packed_a_floats(co, ci);
  for (int64_t xi = 0; xi < 36; ++xi) {
    GemmArgs g;
    g.m = co;
    g.k = ci;
    g.a = u.data() + xi * co * ci;
    g.lda = ci;
    f32_gemm_pack_a(g, packed + size_t(xi) * each);
  }
}

void winograd_multiply(const ConvParams& p, const float* u, const float* v, float* m, int64_t lanes) {
  const size_t u_floats = f32_gemm_packed_a_floats(p.c_out, p.c_in);
  const int64_t ld = 36 * lanes;
  for (int64_t xi = 0; xi < 36; ++xi) {
    GemmArgs a;
    a.m = p.c_out;
    a.n = lanes;
    a.k = p.c_in;
    a.b = v + xi * lanes;
    a.ldb = ld;
    a.c = m + xi * lanes;
    a.ldc = ld;
    f32_gemm_packed(a, u + size_t(xi) * u_floats);
  }
}

}  // namespace pareto::kernels
