// The int8 conv's lowered operand (its VNNI panel, [k4/4][n16][4] bytes)
// built straight from the input rows, for convs whose columns are not the
// input planes themselves (strided, padded or k x k convs the shifted form
// does not take). The generic path lowers each of the k im2col rows into
// scratch (a strided copy per tap and row, padding by memset) and then
// interleaves them four at a time; PP-OCR cls's 3 -> 8 stem (k = 27, stride
// 2) spent 60% of its time there. Here every 16 output columns of a quad of
// taps are one 64-byte store: each tap's input window (16 columns at stride
// s: 15 s + 1 <= 64 bytes) is one load from its row, and two VPERMT2Bs pick
// the four taps' bytes into their lanes (tap b of column q at byte 4 q + b),
// a blend joins them. Padding columns and rows read the zero point, taps
// past k read 0: the bytes the generic path writes, so the same sums.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv.h"
#include "kernels/int8_conv.h"

namespace pareto::kernels::avx512vnni {

namespace {

// Lane L of a pair permute: column L / 4, tap L % 4; tap `lo` reads the
// first source at column * stride, tap `hi` the second (index bit 6).
__m512i pair_index(int lo, int hi, int64_t stride) {
  alignas(64) uint8_t idx[64];
  for (int l = 0; l < 64; ++l) {
    const int b = l & 3, col = l >> 2;
    idx[l] = uint8_t(b == lo ? col * stride : b == hi ? 64 + col * stride : 0);
  }
  return _mm512_load_si512(idx);
}

// Bytes of padding left of a copied row (more than pad_left: every window
// starts inside the copy).
constexpr int64_t kMargin = 64;

// A copied row's length: the margin, then the row or as far as any tap's
// 64-byte window reads, whichever is longer. A tile's groups of 16 columns
// start wherever its first column falls in a row (its first column is a
// multiple of 16 of the plane, not of the row), so a group may start at
// any column up to out_w - 1.
int64_t strip_row_bytes(const ConvParams& p, int64_t w) {
  const int64_t reach = (p.out_w - 1) * p.stride_w + (p.kw - 1) * p.dil_w - p.pad_left + 64;
  return kMargin + std::max(w, reach);
}

}  // namespace

int64_t panel_window_rows(const ConvParams& p, int64_t first, int64_t count) {
  const int64_t oh0 = first / p.out_w, oh1 = (first + count - 1) / p.out_w;
  return (oh1 - oh0) * p.stride_h + (p.kh - 1) * p.dil_h + 1;
}

bool panel_from_windows_fits(const ConvParams& p, int64_t cin, int64_t w, int64_t rows) {
  if (p.stride_w < 1 || p.stride_w > 4 || p.pad_left < 0 || p.pad_left >= kMargin || p.kw < 1 || p.dil_w < 1 || p.out_w < 1) return false;
  if (p.kw > 64 || p.dil_w > 64 || p.out_w > (int64_t(1) << 20) || w > (int64_t(1) << 20)) return false;  // bounded products below
  if (cin < 1 || rows < 1) return false;
  // The strip stays in L2 (1 MiB): compared by division, as cin and rows come from the model.
  const int64_t budget = int64_t(1) << 20;
  return cin <= budget / rows / strip_row_bytes(p, w);
}

void panel_from_windows(const ConvParams& p, const uint8_t* x, int64_t cin, int64_t h, int64_t w, uint8_t flip, uint8_t pad, int64_t k,
                        int64_t k4, int64_t first, int64_t count, uint8_t* out, int64_t quad_bytes) {
  // The input rows the tile reads, each copied between margins of the
  // padding byte (rows above or below the image are all padding), so that
  // every tap's window is one plain load: no edge cases in the loop.
  const int64_t oh_first = first / p.out_w, ih0 = oh_first * p.stride_h - p.pad_top;
  const int64_t rows = panel_window_rows(p, first, count), ld = strip_row_bytes(p, w);
  thread_local std::vector<uint8_t> strip, zero_row;
  strip.resize(size_t(cin * rows * ld + 64));  // (64 bytes of slack past the last row: a window never needs them)
  zero_row.assign(size_t(ld), flip);  // taps past k (weight 0): byte 0 after the flip
  // Data bytes are flipped after the blend; padding must come out as `pad`,
  // so the margins hold it pre-flipped.
  const uint8_t pad_byte = uint8_t(pad ^ flip);
  for (int64_t c = 0; c < cin; ++c)
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* dst = strip.data() + (c * rows + r) * ld;
      const int64_t ih = ih0 + r;
      if (ih < 0 || ih >= h) {
        std::memset(dst, pad_byte, size_t(ld));
        continue;
      }
      std::memset(dst, pad_byte, size_t(kMargin));
      std::memcpy(dst + kMargin, x + (c * h + ih) * w, size_t(w));
      std::memset(dst + kMargin + w, pad_byte, size_t(ld - kMargin - w));
    }
  // Each tap's row in the strip (relative to the tile's first output row)
  // and the byte its output column 0 reads.
  struct TapPlace {
    int64_t row, column;
  };
  thread_local std::vector<TapPlace> places;
  places.resize(size_t(k4));
  for (int64_t kk = 0; kk < k4; ++kk)
    places[size_t(kk)] = kk < k ? TapPlace{kk / (p.kh * p.kw) * rows + kk / p.kw % p.kh * p.dil_h, kMargin + kk % p.kw * p.dil_w - p.pad_left}
                                : TapPlace{-1, 0};
  const int64_t sw = p.stride_w;
  const __m512i idx01 = pair_index(0, 1, sw), idx23 = pair_index(2, 3, sw);
  const __m512i flips = _mm512_set1_epi8(char(flip));
  const __mmask64 taps23 = 0xCCCCCCCCCCCCCCCCull;
  int64_t oh = oh_first, ow0 = first % p.out_w;
  for (int64_t q = first; q < first + count; ++oh, ow0 = 0) {  // the tile's part of each output row
    const int64_t n = std::min(p.out_w - ow0, first + count - q);
    const int64_t row_shift = (oh - oh_first) * p.stride_h;
    uint8_t* row_out = out + (q - first) * 4;
    for (int64_t kq = 0; kq < k4; kq += 4) {
      const uint8_t* src[4];
      for (int b = 0; b < 4; ++b) {
        const TapPlace& at = places[size_t(kq + b)];
        src[b] = at.row < 0 ? zero_row.data() : strip.data() + (at.row + row_shift) * ld + at.column + ow0 * sw;
      }
      uint8_t* dst = row_out + (kq / 4) * quad_bytes;
      for (int64_t g = 0; g < n; g += 16) {
        const int64_t base = g * sw;
        const __m512i a = _mm512_permutex2var_epi8(_mm512_loadu_si512(src[0] + base), idx01, _mm512_loadu_si512(src[1] + base));
        const __m512i b = _mm512_permutex2var_epi8(_mm512_loadu_si512(src[2] + base), idx23, _mm512_loadu_si512(src[3] + base));
        const __m512i v = _mm512_xor_si512(_mm512_mask_blend_epi8(taps23, a, b), flips);
        const int64_t m = std::min<int64_t>(16, n - g);
        if (m == 16) _mm512_storeu_si512(dst + g * 4, v);
        else _mm512_mask_storeu_epi8(dst + g * 4, (__mmask64(1) << (4 * m)) - 1, v);
      }
    }
    q += n;
  }
}

}  // namespace pareto::kernels::avx512vnni
