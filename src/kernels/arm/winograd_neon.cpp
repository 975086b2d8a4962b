// 3x3 stride-1 convolution by Winograd F(4x4, 3x3) on NEON: the AVX-512
// kernel's plan (x86/winograd_avx512.cpp) with groups of 4 tiles of one tile
// row, one per vector lane. Per chunk of groups:
//   1. input transform V = B^T d B of every 6x6 patch, vectorized across the
//      4 tiles of a group (a de-interleaving 4-way load splits 16 input
//      columns into the tiles' columns 0-3, one more at +4 gives 4 and 5;
//      patches at the image edges go through a zero-padded copy);
//   2. 36 GEMMs M[xi] (c_out x tiles) = U[xi] (c_out x c_in) x V[xi] on the
//      NEON f32 GEMM, U transformed and packed once when the model loads;
//   3. output transform Y = A^T M A, bias, the tiles interleaved back into
//      rows by a 4-way store, and the epilogue on those rows.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"

namespace pareto::kernels::neon {

namespace {

// o = B^T d for one 6-vector (each element a vector over 4 tiles).
inline void input_1d(const float32x4_t d[6], float32x4_t o[6]) {
  const float32x4_t d4_d2 = vsubq_f32(d[4], d[2]);
  const float32x4_t t1 = vfmsq_n_f32(d[4], d[2], 4.f);  // d4 - 4 d2
  const float32x4_t t2 = vfmsq_n_f32(d[3], d[1], 4.f);  // d3 - 4 d1
  const float32x4_t t3 = vmulq_n_f32(vsubq_f32(d[3], d[1]), 2.f);
  o[0] = vaddq_f32(vfmsq_n_f32(vmulq_n_f32(d[0], 4.f), d[2], 5.f), d[4]);
  o[1] = vaddq_f32(t1, t2);
  o[2] = vsubq_f32(t1, t2);
  o[3] = vaddq_f32(d4_d2, t3);
  o[4] = vsubq_f32(d4_d2, t3);
  o[5] = vaddq_f32(vfmsq_n_f32(vmulq_n_f32(d[1], 4.f), d[3], 5.f), d[5]);
}

// o = A^T m for one 6-vector.
inline void output_1d(const float32x4_t m[6], float32x4_t o[4]) {
  const float32x4_t s12 = vaddq_f32(m[1], m[2]), d12 = vsubq_f32(m[1], m[2]);
  const float32x4_t s34 = vaddq_f32(m[3], m[4]), d34 = vsubq_f32(m[3], m[4]);
  o[0] = vaddq_f32(vaddq_f32(m[0], s12), s34);
  o[1] = vfmaq_n_f32(d12, d34, 2.f);
  o[2] = vfmaq_n_f32(s12, s34, 4.f);
  o[3] = vaddq_f32(vfmaq_n_f32(d12, d34, 8.f), m[5]);
}

// A group: up to 4 tiles side by side in one tile row.
struct Group {
  int64_t n = 0, tile_row = 0, tile0 = 0, tiles = 0;
};

struct Geometry {
  int64_t tile_rows, tiles_w, groups_per_row, groups;
  explicit Geometry(const ConvParams& p)
      : tile_rows((p.out_h + 3) / 4), tiles_w((p.out_w + 3) / 4), groups_per_row((tiles_w + 3) / 4), groups(p.n * tile_rows * groups_per_row) {}
  Group group(int64_t gi) const {
    Group g;
    g.n = gi / (tile_rows * groups_per_row);
    g.tile_row = gi / groups_per_row % tile_rows;
    g.tile0 = gi % groups_per_row * 4;
    g.tiles = std::min<int64_t>(4, tiles_w - g.tile0);
    return g;
  }
};

// B^T d B of one input channel's 6x6 patches for the 4 tiles of a group:
// v[xi * ld + lane]. A row of the group spans input columns [col0, col0 + 20).
void transform_input_group(const ConvParams& p, int64_t c, const float* x, const Group& g, float* v, int64_t ld) {
  const float* plane = x + (g.n * p.c_in + c) * p.h * p.w;
  const int64_t ih0 = g.tile_row * 4 - p.pad_top, col0 = g.tile0 * 4 - p.pad_left;
  const bool inside_cols = col0 >= 0 && col0 + 20 <= p.w;
  float32x4_t rows[6][6];  // rows[r][k]: B^T applied along input row r
  for (int r = 0; r < 6; ++r) {
    const int64_t ih = ih0 + r;
    float buf[20];
    const float* src;
    if (ih >= 0 && ih < p.h && inside_cols) {
      src = plane + ih * p.w + col0;
    } else {
      std::fill(buf, buf + 20, 0.f);
      if (ih >= 0 && ih < p.h) {
        const int64_t lo = std::clamp<int64_t>(-col0, 0, 20), hi = std::clamp<int64_t>(p.w - col0, lo, 20);
        std::memcpy(buf + lo, plane + ih * p.w + col0 + lo, sizeof(float) * size_t(hi - lo));
      }
      src = buf;
    }
    const float32x4x4_t a = vld4q_f32(src), b = vld4q_f32(src + 4);  // lane j: tile j's columns 0-3, then 4-7
    const float32x4_t d[6] = {a.val[0], a.val[1], a.val[2], a.val[3], b.val[0], b.val[1]};
    input_1d(d, rows[r]);
  }
  for (int k = 0; k < 6; ++k) {
    const float32x4_t col[6] = {rows[0][k], rows[1][k], rows[2][k], rows[3][k], rows[4][k], rows[5][k]};
    float32x4_t o[6];
    input_1d(col, o);
    for (int a = 0; a < 6; ++a) vst1q_f32(v + (a * 6 + k) * ld, o[a]);
  }
}

// A^T M A + bias for one output channel and a group's 4 tiles (m[xi * ld +
// lane]), written into the output rows, then the epilogue.
void transform_output_group(const ConvParams& p, const float* m, int64_t ld, float bias, int64_t oc, const Group& g, float* y) {
  float row_out[4][16];
  float32x4_t cols6[4][6];  // A^T applied down each of the 6 columns
  for (int k = 0; k < 6; ++k) {
    float32x4_t mv[6], o[4];
    for (int a = 0; a < 6; ++a) mv[a] = vld1q_f32(m + (a * 6 + k) * ld);
    output_1d(mv, o);
    for (int r = 0; r < 4; ++r) cols6[r][k] = o[r];
  }
  const float32x4_t b = vdupq_n_f32(bias);
  for (int r = 0; r < 4; ++r) {
    float32x4_t o[4];
    output_1d(cols6[r], o);
    vst4q_f32(row_out[r], float32x4x4_t{{vaddq_f32(o[0], b), vaddq_f32(o[1], b), vaddq_f32(o[2], b), vaddq_f32(o[3], b)}});
  }
  const int64_t oh0 = g.tile_row * 4, ow0 = g.tile0 * 4;
  const int64_t rows = std::min<int64_t>(4, p.out_h - oh0), cols = std::min(g.tiles * 4, p.out_w - ow0);
  float* dst = y + (g.n * p.c_out + oc) * p.out_h * p.out_w + oh0 * p.out_w + ow0;
  for (int64_t r = 0; r < rows; ++r) {
    float* out = dst + r * p.out_w;
    std::memcpy(out, row_out[r], sizeof(float) * size_t(cols));
    if (p.epilogue.active())
      kernels::apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, cols);
  }
}

// Groups [g0, g0 + count) as one GEMM panel of count * 4 lanes; V laid out
// [c_in][36][lanes], M [c_out][36][lanes].
void run_groups(const ConvParams& p, const Geometry& geo, const float* x, const float* u, const float* bias, float* y, int64_t g0,
                int64_t count) {
  thread_local std::vector<float> v_buf, m_buf;
  const int64_t lanes = count * 4, ld = 36 * lanes;
  v_buf.resize(size_t(p.c_in * ld));
  m_buf.resize(size_t(p.c_out * ld));
  for (int64_t c = 0; c < p.c_in; ++c)
    for (int64_t i = 0; i < count; ++i) transform_input_group(p, c, x, geo.group(g0 + i), v_buf.data() + c * ld + i * 4, lanes);
  winograd_multiply(p, u, v_buf.data(), m_buf.data(), lanes);
  for (int64_t oc = 0; oc < p.c_out; ++oc)
    for (int64_t i = 0; i < count; ++i)
      transform_output_group(p, m_buf.data() + oc * ld + i * 4, lanes, bias ? bias[oc] : 0.f, oc, geo.group(g0 + i), y);
}

}  // namespace

void winograd_conv3x3(const ConvParams& p, const float* x, const float* u, const float* bias, float* y) {
  const Geometry geo(p);
  // 8 groups (32 lanes: four of the GEMM's 8-column tiles) per chunk, 16 when the channels are few.
  const int64_t per = p.c_in <= 48 ? 16 : 8;
  const int64_t chunks = (geo.groups + per - 1) / per;
  parallel_for_balanced(chunks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) run_groups(p, geo, x, u, bias, y, t * per, std::min(per, geo.groups - t * per));
  });
}

}  // namespace pareto::kernels::neon
