// Byte-table lookups with AVX-512 VBMI. Bytes: the 256-entry table sits in
// four registers; VPERMI2B picks from a pair of them by the index's low 7
// bits and bit 7 chooses the pair, so 64 lookups take two permutes and a
// blend. Floats: the same on the table's four byte planes (byte k of every
// entry; split_float_table), then the four bytes of each float are
// interleaved back. A 16-lane gather, or the scalar loop, ran 3-4x slower
// than this on 25K lookups (Zen-class core; measured with a throwaway
// harness, not kept).
// GCC 12's AVX-512 headers trip -W(maybe-)uninitialized on their own
// undefined-value helpers (GCC bug 105593), as in quant_dot_avx512vnni.cpp.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/lookup.h"

namespace pareto::kernels::avx512vbmi {

namespace {

struct ByteTable {
  __m512i t[4];  // entries 0-63, 64-127, 128-191, 192-255
  __m512i look(__m512i idx) const {
    const __m512i low = _mm512_permutex2var_epi8(t[0], idx, t[1]), high = _mm512_permutex2var_epi8(t[2], idx, t[3]);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(idx), low, high);
  }
};

// The unpacks below interleave within 128-bit lanes: element 16L + 4m + t
// of the permuted indexes lands in output float 16m + 4L + t.
__m512i lane_order() {
  alignas(64) uint8_t p[64];
  for (int l = 0; l < 4; ++l)
    for (int m = 0; m < 4; ++m)
      for (int t = 0; t < 4; ++t) p[16 * l + 4 * m + t] = uint8_t(16 * m + 4 * l + t);
  return _mm512_load_si512(p);
}

}  // namespace

void lookup_bytes(const uint8_t* x, int64_t n, const uint8_t* table, uint8_t* y) {
  ByteTable t;
  for (int r = 0; r < 4; ++r) t.t[r] = _mm512_loadu_si512(table + 64 * r);
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(y + i, t.look(_mm512_loadu_si512(x + i)));
  if (i < n) {  // the tail under a mask: no read or write past n
    const __mmask64 m = _bzhi_u64(~0ull, unsigned(n - i));
    _mm512_mask_storeu_epi8(y + i, m, t.look(_mm512_maskz_loadu_epi8(m, x + i)));
  }
}

void lookup_floats(const uint8_t* x, int64_t n, const uint8_t* table_planes, float* y) {
  ByteTable planes[4];  // planes[k]: byte k of every entry
  for (int k = 0; k < 4; ++k)
    for (int r = 0; r < 4; ++r) planes[k].t[r] = _mm512_loadu_si512(table_planes + 256 * k + 64 * r);
  const __m512i order = lane_order();
  for (int64_t i = 0; i < n; i += 64) {
    const int64_t left = n - i;
    const __mmask64 m = left >= 64 ? ~0ull : _bzhi_u64(~0ull, unsigned(left));
    const __m512i idx = _mm512_permutexvar_epi8(order, _mm512_maskz_loadu_epi8(m, x + i));
    const __m512i b0 = planes[0].look(idx), b1 = planes[1].look(idx), b2 = planes[2].look(idx), b3 = planes[3].look(idx);
    const __m512i u0 = _mm512_unpacklo_epi8(b0, b1), u1 = _mm512_unpackhi_epi8(b0, b1);
    const __m512i v0 = _mm512_unpacklo_epi8(b2, b3), v1 = _mm512_unpackhi_epi8(b2, b3);
    const __m512i w[4] = {_mm512_unpacklo_epi16(u0, v0), _mm512_unpackhi_epi16(u0, v0), _mm512_unpacklo_epi16(u1, v1),
                          _mm512_unpackhi_epi16(u1, v1)};
    for (int s = 0; s < 4; ++s) {
      const int64_t count = left - 16 * s;
      if (count <= 0) break;
      const __mmask16 sm = count >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << count) - 1);
      _mm512_mask_storeu_ps(y + i + 16 * s, sm, _mm512_castsi512_ps(w[s]));
    }
  }
}

}  // namespace pareto::kernels::avx512vbmi
