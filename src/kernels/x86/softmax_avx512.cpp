#include "kernels/x86/avx512_intrinsics.h"

#include <cstring>

#include "kernels/softmax.h"

namespace pareto::kernels::avx512 {

namespace {

// e^x = 2^n * e^r with n = round(x / ln2), r = x - n ln2 (ln2 split in a
// high and a low part so r keeps its precision), e^r by its Taylor series
// to r^6 (|r| <= 0.347: the next term is below 1.3e-7 relative).
__m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-103.f), _mm512_min_ps(x, _mm512_set1_ps(88.7f)));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_scalef_ps(p, n);  // p * 2^n, exact and without building exponent bits by hand
}

// Loads the first `count` (< 16) floats; the rest of the lanes get `fill`.
__m512 load_tail(const float* p, int64_t count, float fill) {
  alignas(64) float buf[16];
  for (int i = 0; i < 16; ++i) buf[i] = fill;
  std::memcpy(buf, p, sizeof(float) * size_t(count));
  return _mm512_load_ps(buf);
}

// Horizontal max / sum through memory, once per row.
float hmax(__m512 v) {
  alignas(64) float b[16];
  _mm512_store_ps(b, v);
  float m = b[0];
  for (int i = 1; i < 16; ++i) m = b[i] > m ? b[i] : m;
  return m;
}
float hsum(__m512 v) {
  alignas(64) float b[16];
  _mm512_store_ps(b, v);
  float s = 0;
  for (int i = 0; i < 16; ++i) s += b[i];
  return s;
}

void store_tail(float* p, __m512 v, int64_t count) {
  alignas(64) float buf[16];
  _mm512_store_ps(buf, v);
  std::memcpy(p, buf, sizeof(float) * size_t(count));
}

}  // namespace

void f32_softmax_row(const float* x, float* y, int64_t len) {
  const int64_t body = len / 16 * 16, tail = len - body;
  __m512 top = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < body; i += 16) top = _mm512_max_ps(top, _mm512_loadu_ps(x + i));
  if (tail) top = _mm512_max_ps(top, load_tail(x + body, tail, -__builtin_inff()));
  const __m512 mx = _mm512_set1_ps(hmax(top));
  __m512 vsum = _mm512_setzero_ps();
  for (int64_t i = 0; i < body; i += 16) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
    _mm512_storeu_ps(y + i, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  if (tail) {
    const __mmask16 live = __mmask16((1u << tail) - 1);
    const __m512 e = _mm512_maskz_mov_ps(live, exp_ps(_mm512_sub_ps(load_tail(x + body, tail, 0.f), mx)));
    store_tail(y + body, e, tail);
    vsum = _mm512_add_ps(vsum, e);
  }
  const __m512 scale = _mm512_set1_ps(1.f / hsum(vsum));
  for (int64_t i = 0; i < body; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), scale));
  if (tail) store_tail(y + body, _mm512_mul_ps(load_tail(y + body, tail, 0.f), scale), tail);
}

}  // namespace pareto::kernels::avx512
