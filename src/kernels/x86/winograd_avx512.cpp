// 3x3 stride-1 convolution by Winograd F(4x4, 3x3) with AVX-512: each 4x4
// output tile costs 36 multiplies per input channel instead of 144. Tiles
// go in groups of 16 (one vector lane each: two halves of up to 8 tiles side
// by side in a tile row), and a few groups make one chunk of work; per chunk:
//   1. input transform V = B^T d B of every 6x6 patch, vectorized across the
//      16 tiles of a group (each input row split into the six tile columns
//      with two-source permutes; the zero padding by a zeroing move after
//      a plain load, or by a masked load at the tensor's two ends);
//   2. 36 GEMMs M[xi] (c_out x tiles) = U[xi] (c_out x c_in) x V[xi], U
//      transformed and packed for the GEMM once when the model loads;
//   3. output transform Y = A^T M A, bias, the 4x4 tiles interleaved back
//      into rows, and the epilogue on those rows while they are in cache.
// The matrices are Lavin & Gray's (arXiv:1509.09308) with points 0, ±1, ±2.
#include "kernels/x86/avx512_intrinsics.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/conv.h"

namespace pareto::kernels::avx512 {

namespace {


// o = B^T d for one 6-vector (each element a vector over 16 tiles).
inline void input_1d(const __m512 d[6], __m512 o[6]) {
  const __m512 four = _mm512_set1_ps(4.f), five = _mm512_set1_ps(5.f), two = _mm512_set1_ps(2.f);
  const __m512 d4_d2 = _mm512_sub_ps(d[4], d[2]);
  const __m512 t1 = _mm512_fnmadd_ps(four, d[2], d[4]);  // d4 - 4 d2
  const __m512 t2 = _mm512_fnmadd_ps(four, d[1], d[3]);  // d3 - 4 d1
  const __m512 t3 = _mm512_mul_ps(two, _mm512_sub_ps(d[3], d[1]));
  o[0] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[2], _mm512_mul_ps(four, d[0])), d[4]);
  o[1] = _mm512_add_ps(t1, t2);
  o[2] = _mm512_sub_ps(t1, t2);
  o[3] = _mm512_add_ps(d4_d2, t3);
  o[4] = _mm512_sub_ps(d4_d2, t3);
  o[5] = _mm512_add_ps(_mm512_fnmadd_ps(five, d[3], _mm512_mul_ps(four, d[1])), d[5]);
}

// o = A^T m for one 6-vector.
inline void output_1d(const __m512 m[6], __m512 o[4]) {
  const __m512 s12 = _mm512_add_ps(m[1], m[2]), d12 = _mm512_sub_ps(m[1], m[2]);
  const __m512 s34 = _mm512_add_ps(m[3], m[4]), d34 = _mm512_sub_ps(m[3], m[4]);
  o[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
  o[1] = _mm512_fmadd_ps(_mm512_set1_ps(2.f), d34, d12);
  o[2] = _mm512_fmadd_ps(_mm512_set1_ps(4.f), s34, s12);
  o[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8.f), d34, d12), m[5]);
}

// Lanes j of the result = b[4j + k], j = 0..15, from 64 floats in v[0..3].
inline __m512 tile_column(const __m512 v[4], int k) {
  const __m512i idx = _mm512_add_epi32(_mm512_set_epi32(28, 24, 20, 16, 12, 8, 4, 0, 28, 24, 20, 16, 12, 8, 4, 0), _mm512_set1_epi32(k));
  const __m512 lo = _mm512_permutex2var_ps(v[0], idx, v[1]);
  const __m512 hi = _mm512_permutex2var_ps(v[2], idx, v[3]);
  return _mm512_mask_blend_ps(0xFF00, lo, hi);
}

// The inverse: 64 floats out[4j + c] = col[c] lane j.
inline void interleave_columns(const __m512 col[4], float* out) {
  const __m512 t0 = _mm512_unpacklo_ps(col[0], col[1]), t1 = _mm512_unpackhi_ps(col[0], col[1]);
  const __m512 t2 = _mm512_unpacklo_ps(col[2], col[3]), t3 = _mm512_unpackhi_ps(col[2], col[3]);
  // u_k's 128-bit lane i holds tile 4i + k.
  const __m512 u0 = _mm512_shuffle_ps(t0, t2, 0x44), u1 = _mm512_shuffle_ps(t0, t2, 0xEE);
  const __m512 u2 = _mm512_shuffle_ps(t1, t3, 0x44), u3 = _mm512_shuffle_ps(t1, t3, 0xEE);
  const __m512 w0 = _mm512_shuffle_f32x4(u0, u1, 0x44), w1 = _mm512_shuffle_f32x4(u2, u3, 0x44);
  const __m512 w2 = _mm512_shuffle_f32x4(u0, u1, 0xEE), w3 = _mm512_shuffle_f32x4(u2, u3, 0xEE);
  _mm512_storeu_ps(out, _mm512_shuffle_f32x4(w0, w1, 0x88));
  _mm512_storeu_ps(out + 16, _mm512_shuffle_f32x4(w0, w1, 0xDD));
  _mm512_storeu_ps(out + 32, _mm512_shuffle_f32x4(w2, w3, 0x88));
  _mm512_storeu_ps(out + 48, _mm512_shuffle_f32x4(w2, w3, 0xDD));
}

// Up to 8 tiles side by side in one tile row: half a vector. Two halves
// make the 16 lanes of a group, so a row of 40 tiles fills 40 lanes rather
// than 48, and the second half may come from the next tile row.
struct Half {
  int64_t n = 0, tile_row = 0, tile0 = 0, tiles = 0;  // tiles 0: an empty half
};

struct Geometry {
  int64_t tile_rows, tiles_w, halves_per_row, halves, groups;
  explicit Geometry(const ConvParams& p)
      : tile_rows((p.out_h + 3) / 4), tiles_w((p.out_w + 3) / 4), halves_per_row((tiles_w + 7) / 8),
        halves(p.n * tile_rows * halves_per_row), groups((halves + 1) / 2) {}
  Half half(int64_t hi) const {
    Half h;
    if (hi >= halves) return h;
    h.n = hi / (tile_rows * halves_per_row);
    h.tile_row = hi / halves_per_row % tile_rows;
    h.tile0 = hi % halves_per_row * 8;
    h.tiles = std::min<int64_t>(8, tiles_w - h.tile0);
    return h;
  }
};

// Lanes l of a load at column start + l that lie in [0, w): the masked-off
// lanes are never read, so rows at the image edges need no padded copy.
inline __mmask16 columns_inside(int64_t start, int64_t w) {
  const int64_t lo = std::clamp<int64_t>(-start, 0, 16), hi = std::clamp<int64_t>(w - start, lo, 16);
  return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

// B^T d B of one input channel's 6x6 patches for the 16 tiles of two
// halves; v[xi * ld + lane]. tile_column takes lanes 0-7 from at[0..1] and
// lanes 8-15 from at[2..3], so each half loads its own pair of vectors.
void transform_input_group(const ConvParams& p, int64_t c, const float* x, const Half half[2], float* v, int64_t ld) {
  const float* plane[2];
  int64_t ih0[2], col0[2];
  __mmask16 mask[2][4];  // per half: columns +0, +16, +4, +20
  bool inside[2];        // per half: every lane of the four loads inside the row
  const int64_t x_count = p.n * p.c_in * p.h * p.w;
  for (int h = 0; h < 2; ++h) {
    plane[h] = x + (half[h].n * p.c_in + c) * p.h * p.w;
    ih0[h] = half[h].tile_row * 4 - p.pad_top;
    col0[h] = half[h].tile0 * 4 - p.pad_left;
    for (int j = 0; j < 4; ++j) mask[h][j] = half[h].tiles ? columns_inside(col0[h] + (j & 1) * 16 + (j >> 1) * 4, p.w) : 0;
    inside[h] = mask[h][0] == 0xFFFF && mask[h][1] == 0xFFFF && mask[h][2] == 0xFFFF && mask[h][3] == 0xFFFF;
  }
  __m512 rows[6][6];  // rows[r][k]: B^T applied along input row r
  for (int r = 0; r < 6; ++r) {
    __m512 at[8];  // at[0..3]: columns +0/+16 of half 0 then of half 1; at[4..7]: the same + 4
    for (int h = 0; h < 2; ++h) {
      const int64_t ih = ih0[h] + r;
      const bool row_in = ih >= 0 && ih < p.h;
      // The address may point before the row (col0 < 0); lanes outside are masked off.
      const float* src = plane[h] + (row_in ? ih : 0) * p.w + col0[h];
      // Plain loads where they can be: masked ones, even with every lane
      // on, made this conv about 15% slower on the AMD EPYC VM (PP-OCR
      // det's 96 -> 24 conv at 160 x 160: 5.69 against 4.92 ms, medians of
      // 8 interleaved runs); they sit on the transform's critical path.
      if (!row_in) {  // a padding row
        for (int j = 0; j < 4; ++j) at[(j >> 1) * 4 + h * 2 + (j & 1)] = _mm512_setzero_ps();
      } else if (inside[h]) {
        for (int j = 0; j < 4; ++j) at[(j >> 1) * 4 + h * 2 + (j & 1)] = _mm512_loadu_ps(src + (j & 1) * 16 + (j >> 1) * 4);
      } else {
        // An edge half: the load's lanes outside the row zeroed after a
        // plain load where all 16 lie inside x (the others read x's own
        // neighbouring values), a masked load at x's two ends.
        const int64_t row_at = (half[h].n * p.c_in + c) * p.h * p.w + ih * p.w + col0[h];
        for (int j = 0; j < 4; ++j) {
          const int64_t at_x = row_at + (j & 1) * 16 + (j >> 1) * 4;
          const bool whole = at_x >= 0 && at_x + 16 <= x_count;
          at[(j >> 1) * 4 + h * 2 + (j & 1)] = whole ? _mm512_maskz_mov_ps(mask[h][j], _mm512_loadu_ps(x + at_x))
                                                     : _mm512_maskz_loadu_ps(mask[h][j], src + (j & 1) * 16 + (j >> 1) * 4);
        }
      }
    }
    __m512 d[6];
    for (int k = 0; k < 4; ++k) d[k] = tile_column(at, k);
    d[4] = tile_column(at + 4, 0);
    d[5] = tile_column(at + 4, 1);
    input_1d(d, rows[r]);
  }
  for (int k = 0; k < 6; ++k) {
    const __m512 col[6] = {rows[0][k], rows[1][k], rows[2][k], rows[3][k], rows[4][k], rows[5][k]};
    __m512 o[6];
    input_1d(col, o);
    for (int a = 0; a < 6; ++a) _mm512_storeu_ps(v + (a * 6 + k) * ld, o[a]);
  }
}

// A^T M A + bias for one output channel and the 16 tiles of two halves
// (m[xi * ld + lane]), written into the output rows, then the epilogue.
void transform_output_group(const ConvParams& p, const float* m, int64_t ld, float bias, int64_t oc, const Half half[2], float* y) {
  alignas(64) float row_out[4][64];  // per output row: half 0's 32 columns, then half 1's
  const __m512 b = _mm512_set1_ps(bias);
  __m512 cols6[4][6];  // A^T applied down each of the 6 columns
  for (int k = 0; k < 6; ++k) {
    __m512 mv[6], o[4];
    for (int a = 0; a < 6; ++a) mv[a] = _mm512_loadu_ps(m + (a * 6 + k) * ld);
    output_1d(mv, o);
    for (int r = 0; r < 4; ++r) cols6[r][k] = o[r];
  }
  for (int r = 0; r < 4; ++r) {
    __m512 o[4];
    output_1d(cols6[r], o);
    for (__m512& e : o) e = _mm512_add_ps(e, b);
    interleave_columns(o, row_out[r]);
  }
  for (int h = 0; h < 2; ++h) {
    if (!half[h].tiles) continue;
    const int64_t oh0 = half[h].tile_row * 4, ow0 = half[h].tile0 * 4;
    const int64_t rows = std::min<int64_t>(4, p.out_h - oh0), cols = std::min(half[h].tiles * 4, p.out_w - ow0);
    float* dst = y + (half[h].n * p.c_out + oc) * p.out_h * p.out_w + oh0 * p.out_w + ow0;
    for (int64_t r = 0; r < rows; ++r) {
      float* out = dst + r * p.out_w;
      std::memcpy(out, row_out[r] + h * 32, sizeof(float) * size_t(cols));
      if (p.epilogue.active())
        kernels::apply_activation(p.epilogue.act, out, p.epilogue.residual ? p.epilogue.residual + (out - y) : nullptr, cols);
    }
  }
}

// Groups [g0, g0 + count) as one GEMM panel of count * 16 lanes. V is laid
// out [c_in][36][lanes] and M [c_out][36][lanes]: what one channel's
// transform writes or reads is contiguous (a [36][c][lanes] layout puts the
// 36 stores of one channel a multiple of 4 KiB apart, all in one L1 set).
void run_groups(const ConvParams& p, const Geometry& geo, const float* x, const float* u, const float* bias, float* y,
                int64_t g0, int64_t count) {
  thread_local std::vector<float> v_buf, m_buf;
  thread_local std::vector<Half> thread_halves;
  const int64_t lanes = count * 16, ld = 36 * lanes;
  v_buf.resize(size_t(p.c_in * ld));
  m_buf.resize(size_t(p.c_out * ld));
  std::vector<Half>& halves = thread_halves;
  halves.resize(size_t(2 * count));
  for (int64_t i = 0; i < 2 * count; ++i) halves[size_t(i)] = geo.half(2 * g0 + i);
  for (int64_t c = 0; c < p.c_in; ++c)
    for (int64_t i = 0; i < count; ++i) transform_input_group(p, c, x, &halves[size_t(2 * i)], v_buf.data() + c * ld + i * 16, lanes);
  winograd_multiply(p, u, v_buf.data(), m_buf.data(), lanes);
  for (int64_t oc = 0; oc < p.c_out; ++oc)
    for (int64_t i = 0; i < count; ++i)
      transform_output_group(p, m_buf.data() + oc * ld + i * 16, lanes, bias ? bias[oc] : 0.f, oc, &halves[size_t(2 * i)], y);
}

}  // namespace

void winograd_conv3x3(const ConvParams& p, const float* x, const float* u, const float* bias, float* y) {
  const Geometry geo(p);
  // Groups per GEMM: 2 (a full 32-lane panel), 4 when the channels are few
  // enough for the transformed inputs to stay in L2 anyway.
  const int64_t per = p.c_in <= 48 ? 4 : 2;
  const int64_t chunks = (geo.groups + per - 1) / per;
  parallel_for_balanced(chunks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) run_groups(p, geo, x, u, bias, y, t * per, std::min(per, geo.groups - t * per));
  });
}

}  // namespace pareto::kernels::avx512
