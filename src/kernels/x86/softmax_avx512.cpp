#include "kernels/x86/avx512_intrinsics.h"
#include "kernels/x86/avx512_math.h"

#include <cstring>

#include "kernels/softmax.h"

namespace pareto::kernels::avx512 {

namespace {

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
