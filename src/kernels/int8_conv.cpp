#include "kernels/int8_conv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#include "core/cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/bf16_conv.h"
#include "kernels/f16_conv.h"
#include "kernels/dispatch.h"
#include "kernels/scratch.h"
#include "kernels/tile_choice.h"

namespace pareto::kernels {

Int8Weights pack_int8_weights(const void* w, bool w_signed, int64_t rows, int64_t k, const int32_t* zero, int64_t zero_count) {
  if (k > kMaxInt8ConvK) fail_unsupported("integer conv with " + std::to_string(k) + " products per output (at most " + std::to_string(kMaxInt8ConvK) + ")");
  Int8Weights p;
  p.rows = rows;
  p.k = k;
  p.k4 = (k + 3) / 4 * 4;
  p.data.assign(size_t(rows * p.k4), 0);
  p.row_sums.assign(size_t(rows), 0);
  p.zero.assign(size_t(rows), 0);
  const int32_t shift = w_signed ? 0 : -128;  // uint8 weights become signed
  for (int64_t r = 0; r < rows; ++r) {
    int32_t sum = 0;
    for (int64_t i = 0; i < k; ++i) {
      const int32_t v = w_signed ? int32_t(static_cast<const int8_t*>(w)[r * k + i])
                                 : int32_t(static_cast<const uint8_t*>(w)[r * k + i]) + shift;
      p.data[size_t(r * p.k4 + i)] = int8_t(v);
      sum += v;
    }
    p.row_sums[size_t(r)] = sum;
    const int32_t z = zero ? zero[zero_count == 1 ? 0 : r] : 0;  // absent: 0, as ONNX defines it
    p.zero[size_t(r)] = z + shift;
    p.any_zero |= p.zero[size_t(r)] != 0;
  }
  if (int8_tile_gemm()) {
    p.k64 = (k + 63) / 64 * 64;
    p.tiles.assign(size_t((rows + 16) * p.k64), 0);
    for (int64_t r = 0; r < rows; ++r) std::memcpy(p.tiles.data() + r * p.k64, p.data.data() + r * p.k4, size_t(p.k4));
  }
  return p;
}

void int8_gemm_ref(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  // The panel is the offsets GEMM's operand with k-quad q at q * n16 * 4 bytes.
  const int64_t n16 = (n + 15) / 16 * 16;
  std::vector<int64_t> off(static_cast<size_t>(k4 / 4));
  for (size_t q = 0; q < off.size(); ++q) off[q] = int64_t(q) * n16 * 4;
  int8_gemm_offsets_ref(a, lda, m, k4 / 4, b, off.data(), n, c, ldc);
}

bool int8_detail::use_vnni() {
  static const bool vnni = [] {
    const CpuFeatures& f = cpu_features();
    // The file is built with the avx512vnni part's flags, VBMI among them.
    return kernel_table().level == IsaLevel::avx512 && f.avx512vnni && f.avx512bw && f.avx512vbmi;
  }();
  return vnni;
}
using int8_detail::use_vnni;

namespace {
// AArch64: the SDOT GEMM where the CPU has the dot product (PARETO_ISA=ref|neon keeps the reference).
bool use_sdot() {
  static const bool sdot = [] {
    if constexpr (!kBuildArm64) return false;
    const char* isa = std::getenv("PARETO_ISA");
    return cpu_features().dotprod && !(isa && (!std::strcmp(isa, "ref") || !std::strcmp(isa, "neon")));
  }();
  return sdot;
}
// i8mm on top (PARETO_ISA=dotprod stops at SDOT).
bool use_usmmla() {
  static const bool mmla = [] {
    const char* isa = std::getenv("PARETO_ISA");
    return use_sdot() && cpu_features().i8mm && !(isa && !std::strcmp(isa, "dotprod"));
  }();
  return mmla;
}
}  // namespace

bool int8_detail::fast_gemm() { return use_vnni() || use_sdot(); }

namespace {
TileChoice<Int8TileGemm> tile_choice;
}  // namespace

Int8TileGemm int8_tile_gemm() {
  static const Int8TileGemm automatic = [] {
#if defined(__x86_64__)
    if (cpu_features().amx_int8 && amx_allowed() && amx_tile_state_granted()) return &amx::int8_gemm_tiles;
#endif
    return static_cast<Int8TileGemm>(nullptr);
  }();
  return tile_choice.get(automatic);
}

std::string conv_kernel_summary() {
  return std::string("int8_conv=") + (int8_tile_gemm() ? "amx_int8" : use_vnni() ? "avx512vnni" : use_usmmla() ? "i8mm" : use_sdot() ? "dotprod" : "ref") +
         " bf16_conv=" + (bf16_tile_gemm() ? "amx_bf16" : !bf16_conv_native() ? "ref" : kBuildArm64 ? "bf16dot" : "avx512bf16") +
         // f16 compute has a kernel on AArch64 only; elsewhere f16-marked convs run in f32.
         " f16_conv=" + (f16_conv_available() ? "fp16" : "f32");
}

void set_int8_tile_gemm(Int8TileGemm gemm) { tile_choice.set(gemm); }
void reset_int8_tile_gemm() { tile_choice.reset(); }

void int8_gemm(const int8_t* a, int64_t lda, int64_t m, int64_t k4, const uint8_t* b, int64_t n, int32_t* c, int64_t ldc) {
  if constexpr (kBuildX86)
    if (use_vnni()) return avx512vnni::int8_gemm(a, lda, m, k4, b, n, c, ldc);
  if constexpr (kBuildArm64) {
    if (use_usmmla()) return i8mm::int8_gemm(a, lda, m, k4, b, n, c, ldc);
    if (use_sdot()) return dotprod::int8_gemm(a, lda, m, k4, b, n, c, ldc);
  }
  int8_gemm_ref(a, lda, m, k4, b, n, c, ldc);
}

bool exact_int8_codes(const float* w, int64_t n, float scale, int8_t* codes) {
  if (!std::isfinite(scale) || scale == 0.f) return false;
  for (int64_t i = 0; i < n; ++i) {
    const float c = std::nearbyint(w[i] / scale);
    if (!(c >= -128.f && c <= 127.f)) return false;  // also NaN
    const float back = float(int8_t(c)) * scale;  // an integer zero has no sign: -0.0 weights do not come back
    if (std::memcmp(&back, &w[i], sizeof back) != 0) return false;
    codes[i] = int8_t(c);
  }
  return true;
}

void quantize_u8_ref(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = uint8_t(quantize_value(x[i] / scale, zero, 0, 255));
}

void quantize_u8(const float* x, int64_t n, float scale, int32_t zero, uint8_t* out) {
  if constexpr (kBuildX86)
    if (use_vnni()) return avx512vnni::quantize_u8(x, n, scale, zero, out);
  if constexpr (kBuildArm64)
    if (use_sdot()) return dotprod::quantize_u8(x, n, scale, zero, out);
  quantize_u8_ref(x, n, scale, zero, out);
}

void quantize_u8_scaled(const float* x, int64_t n, float factor, float scale, int32_t zero, uint8_t* out) {
  if constexpr (kBuildX86)
    if (use_vnni()) return avx512vnni::quantize_u8_scaled(x, n, factor, scale, zero, out);
  float products[256];
  for (int64_t i = 0; i < n; i += 256) {
    const int64_t m = std::min<int64_t>(256, n - i);
    for (int64_t j = 0; j < m; ++j) products[j] = x[i + j] * factor;
    quantize_u8(products, m, scale, zero, out + i);
  }
}

void dequantize_u8_ref(const uint8_t* q, int64_t n, float scale, int32_t zero, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(int32_t(q[i]) - zero) * scale;
}

void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero, float* out) {
  if constexpr (kBuildX86)
    if (use_vnni()) return avx512vnni::dequantize_u8(q, n, scale, zero, out);
  dequantize_u8_ref(q, n, scale, zero, out);
}

namespace {

int32_t saturate_i32(int64_t v) { return int32_t(std::clamp<int64_t>(v, INT32_MIN, INT32_MAX)); }

// Activation value at (c, ih, iw) of one image in the unsigned form, or the
// zero point (padding is the real value 0).
struct Source {
  const uint8_t* x;  // the image's first channel
  int64_t h, w;
  uint8_t flip;       // 0x80 for int8 input (x + 128 in two's complement), else 0
  uint8_t pad;        // the zero point, unsigned form
};

// Row (c, i, j) of the im2col matrix for pixels [first, first + count):
// dst[q] = the activation that pixel reads through kernel tap (i, j), the
// zero point where the tap falls in the padding.
void im2col_row(const ConvParams& p, const Source& s, int64_t c, int64_t i, int64_t j, int64_t first, int64_t count, uint8_t* dst) {
  const uint8_t* plane = s.x + c * s.h * s.w;
  const int64_t off = j * p.dil_w - p.pad_left, sw = p.stride_w;
  // Output columns [in_lo, in_hi) read inside a row (iw = ow * stride + off):
  // the same for every row, so divided once here, not per row (the
  // divisions per row cost PP-OCR cls's 3 -> 8 stem more than its bytes).
  const int64_t in_lo = off >= 0 ? 0 : (-off + sw - 1) / sw, in_hi = s.w - off <= 0 ? 0 : (s.w - off - 1) / sw + 1;
  const bool even_bytes = kBuildX86 && sw == 2 && kernel_table().level == IsaLevel::avx512;
  int64_t oh = first / p.out_w, ow0 = first % p.out_w;
  for (int64_t q = first; q < first + count; ++oh, ow0 = 0) {
    const int64_t ow1 = std::min(p.out_w, ow0 + (first + count - q));
    uint8_t* d = dst + (q - first);
    const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dil_h;
    if (ih < 0 || ih >= s.h) {
      std::memset(d, s.pad, size_t(ow1 - ow0));
    } else {
      const uint8_t* row = plane + ih * s.w;
      const int64_t lo = std::clamp<int64_t>(in_lo, ow0, ow1), hi = std::clamp<int64_t>(in_hi, lo, ow1);
      std::memset(d, s.pad, size_t(lo - ow0));
      if (sw == 1) {
        std::memcpy(d + (lo - ow0), row + lo + off, size_t(hi - lo));
      } else if (even_bytes && hi > lo) {
        // A byte at a time held PP-OCR cls's stride-2 stem at half the float conv's speed.
        if constexpr (kBuildX86) avx512::copy_even_bytes(row + 2 * lo + off, hi - lo, s.w - (2 * lo + off), d + (lo - ow0));
      } else {
        for (int64_t ow = lo; ow < hi; ++ow) d[ow - ow0] = row[ow * sw + off];
      }
      if (s.flip)  // int8 data to the unsigned form; the padding is already in it
        for (int64_t ow = lo; ow < hi; ++ow) d[ow - ow0] ^= s.flip;
      std::memset(d + (hi - ow0), s.pad, size_t(ow1 - hi));
    }
    q += ow1 - ow0;
  }
}

// A 1x1 stride-1 unpadded conv (its output as large as its input): its
// im2col rows are the input planes themselves.
bool rows_are_planes(const ConvParams& p, const Source& s) {
  return p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 && p.out_w == s.w &&
         p.out_h == s.h;
}

// The panel of a conv whose rows are its planes, interleaved from where
// they lie, without the copies into scratch rows (PP-OCR cls: 50 quads of
// 4 rows of 36-192 bytes per tile, a memcpy and a memset call each).
void panel_from_planes(const Source& s, int64_t k, int64_t k4, int64_t first, int64_t count, int64_t n16, uint8_t* panel) {
  for (int64_t kq = 0; kq < k4; kq += 4) {
    const uint8_t* r[4];
    for (int b = 0; b < 4; ++b) r[b] = kq + b < k ? s.x + (kq + b) * s.h * s.w + first : nullptr;
    int8_detail::interleave_rows(r, count, s.flip, 0, panel + kq * n16);
    if (n16 > count) std::memset(panel + kq * n16 + count * 4, 0, size_t((n16 - count) * 4));  // this quad's columns [count, n16)
  }
}

// Any other conv: each quad's four im2col rows lowered into `rows`, then interleaved.
void panel_from_im2col(const ConvParams& p, const Source& s, int64_t k, int64_t k4, int64_t first, int64_t count, int64_t n16,
                       uint8_t* panel, uint8_t* rows) {
  for (int64_t kq = 0; kq < k4; kq += 4) {
    uint8_t* r[4];
    for (int b = 0; b < 4; ++b) {
      r[b] = rows + b * n16;
      const int64_t kk = kq + b;
      if (kk < k) im2col_row(p, s, kk / (p.kh * p.kw), kk / p.kw % p.kh, kk % p.kw, first, count, r[b]);
      else std::memset(r[b], 0, size_t(count));
      std::memset(r[b] + count, 0, size_t(n16 - count));
    }
    int8_detail::interleave_rows(r, n16, 0, 0, panel + kq * n16);
  }
}

// The panel from copies of the input rows the tile reads, one 64-byte
// window per tap and 16 columns (VNNI machines, where the copies fit);
// false where it does not serve. PARETO_INT8_WINDOWS=0: the generic
// lowering there too (for comparison).
bool panel_from_windows(const ConvParams& p, const Source& s, int64_t cin_g, int64_t k, int64_t k4, int64_t first, int64_t count,
                        int64_t n16, uint8_t* panel) {
  static const bool on = [] {
    const char* env = std::getenv("PARETO_INT8_WINDOWS");
    return kBuildX86 && int8_detail::use_vnni() && !(env && !std::strcmp(env, "0"));
  }();
  if constexpr (kBuildX86) {
    if (!on || !avx512vnni::panel_from_windows_fits(p, cin_g, s.w, avx512vnni::panel_window_rows(p, first, count))) return false;
    avx512vnni::panel_from_windows(p, s.x, cin_g, s.h, s.w, s.flip, s.pad, k, k4, first, count, panel, n16 * 4);
    if (n16 > count)
      for (int64_t kq = 0; kq < k4; kq += 4) std::memset(panel + kq * n16 + count * 4, 0, size_t((n16 - count) * 4));
    return true;
  }
  return false;
}

// Pixels [first, first + count) of the im2col matrix into the VNNI panel
// [k4/4][n16][4] (padding columns and rows zero); col_sums[j] = Σ_k of
// column j (needed only for nonzero weight zero points).
void build_panel(const ConvParams& p, const Source& s, int64_t cin_g, int64_t k4, int64_t first, int64_t count, uint8_t* panel,
                 int32_t* col_sums, uint8_t* rows) {
  const int64_t n16 = (count + 15) / 16 * 16;
  const int64_t k = cin_g * p.kh * p.kw;
  if (rows_are_planes(p, s)) panel_from_planes(s, k, k4, first, count, n16, panel);
  else if (!panel_from_windows(p, s, cin_g, k, k4, first, count, n16, panel)) panel_from_im2col(p, s, k, k4, first, count, n16, panel, rows);
  if (col_sums) {
    std::fill(col_sums, col_sums + count, 0);
    for (int64_t kq = 0; kq < k4 / 4; ++kq)
      for (int64_t q = 0; q < count; ++q)
        for (int b = 0; b < 4; ++b) col_sums[q] += panel[(kq * n16 + q) * 4 + b];
  }
}

// Row oc's zero-point correction of every sum: -x_zero * (the row's weight
// sum) + k * x_zero * w_zero, in 64 bits (each term alone fits 32, their
// sum need not).
int64_t row_correction(const Int8Weights& w, int64_t oc, int32_t x_zero_u) {
  return -int64_t(x_zero_u) * w.row_sums[size_t(oc)] + w.k * x_zero_u * int64_t(w.zero[size_t(oc)]);
}
// Every corrected sum of the row fits 32 bits when this holds (|sum| <= k *
// 255 * 255 with the column sums): the vector forms compute in 32 bits.
bool correction_fits_32(const Int8Weights& w, int64_t correction) { return w.k * 255 * 255 + std::abs(correction) < INT32_MAX; }
// Rows finished (rounded) a block at a time: about 8 KiB of float rows, one
// after another only where the tile holds whole planes (count == plane).
int64_t rows_per_block(int64_t count, int64_t plane) { return count == plane ? std::max<int64_t>(1, 2048 / std::max<int64_t>(1, count)) : 1; }

// Output element: the corrected sum through the epilogue.
template <class Store>
void finish_tile(const Int8Weights& w, int64_t oc0, int64_t rows, const int32_t* acc, int64_t ld,
                 const int32_t* col_sums, int32_t x_zero_u, int64_t count, Store store) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t oc = oc0 + r;
    const int64_t wz = w.zero[size_t(oc)];
    const int64_t base = row_correction(w, oc, x_zero_u);
    for (int64_t q = 0; q < count; ++q) {
      int64_t s = acc[r * ld + q] + base;
      if (wz) s -= wz * col_sums[q];
      store(oc, q, s);
    }
  }
}

// Whether rounding to uint8 in the same pass pays for this activation: for
// a short one (none, Relu, Clip, HardSigmoid, LeakyRelu) one pass took
// 15-35% less time than three (a scratch benchmark of 200 rows of 192 and
// of 1000 values on the Zen 5 class VM of the README); with HardSwish's and
// the exp-based ones' long chains it was 10-45% slower, and the rows in
// registers with the rounding as a second pass over each block 3-20%
// faster than three passes. That second pass batches a block of rows where
// the tile holds whole planes (count == plane); where it holds part of a
// plane it goes row by row, two calls per row, and for HardSwish one pass
// is then faster: PP-OCRv4 rec int8's HardSwish 1x1 convs (tiles of 112-896
// of a plane's 480-3840 pixels) 8-26% less time, the model 9% (`pareto
// profile`, pinned to one vCPU, 3 rounds; `pareto bench`, 4 alternating
// rounds: 5.37 -> 4.99 ms, 7%), where cls's whole-plane tiles took 10% more
// in one pass.
bool rounds_in_registers(ActKind kind, int64_t count, int64_t plane) {
  return kind == ActKind::none || kind == ActKind::relu || kind == ActKind::clip || kind == ActKind::hard_sigmoid ||
         kind == ActKind::leaky_relu || (kind == ActKind::hard_swish && count != plane);
}

// The float epilogue of a tile finished in registers
// (avx512vnni::int8_epilogue_rows: the scale, bias, residual, activation
// and, where rounds_in_registers says so, the rounding to uint8 in one pass
// instead of three over the rows; PP-OCR cls int8 spent a fifth of its time in
// those passes). False, with nothing written, where that kernel is not
// here, the activation has no vector form or a row's corrected sums might
// not fit 32 bits: the passes then.
bool finish_rows_in_registers(const Int8ConvParams& p, const Int8Weights& w, int64_t oc0, int64_t rows, const int32_t* acc, int64_t ld,
                              const int32_t* col_sums, int32_t x_zero_u, int64_t count, int64_t out0, int64_t plane, void* y) {
  const Int8Epilogue& e = p.out;
  const Activation& act = e.act.act;
  if (!kBuildX86 || !use_vnni() || !has_vector_form(act.kind)) return false;
  int32_t* base = thread_scratch<int32_t, 5>(size_t(rows));
  for (int64_t oc = oc0; oc < oc0 + rows; ++oc) {
    const int64_t b = row_correction(w, oc, x_zero_u);
    if (!correction_fits_32(w, b)) return false;
    base[oc - oc0] = int32_t(b);
  }
  Int8RowsEpilogue r;
  r.col_sums = col_sums;
  r.act = act.kind != ActKind::none || act.has_post() ? &act : nullptr;
  r.stride = plane;
  r.u8_scale = e.quant.scale;
  r.u8_zero = e.quant.zero;
  // False only where the activation has no vector form, before writing (has_vector_form said so above).
  auto rows_at = [&](int64_t first, int64_t n, float* f32, uint8_t* u8) {
    const int64_t at = out0 + (first - oc0) * plane;
    r.base = base + (first - oc0);
    r.w_zero = w.zero.data() + first;
    r.scale = e.scale + first;
    r.bias = e.bias_f32 ? e.bias_f32 + first : nullptr;
    r.residual = e.act.residual ? e.act.residual + at : nullptr;
    r.f32 = f32;
    r.u8 = u8;
    if constexpr (kBuildX86)  // named only in x86-64 builds
      return avx512vnni::int8_epilogue_rows(acc + (first - oc0) * ld, ld, n, count, r);
    return false;
  };
  if (!e.quant.data) return rows_at(oc0, rows, static_cast<float*>(y) + out0, nullptr);
  if (rounds_in_registers(act.kind, count, plane)) return rows_at(oc0, rows, nullptr, e.quant.data + out0);
  // Float rows to scratch (`plane` apart: a block of several rows only
  // where count == plane), rounded a block at a time.
  const int64_t batch = rows_per_block(count, plane);
  for (int64_t ob = oc0; ob < oc0 + rows; ob += batch) {
    const int64_t nb = std::min(batch, oc0 + rows - ob), at = out0 + (ob - oc0) * plane;
    float* block = thread_scratch<float, 7>(size_t(nb * count));
    if (!rows_at(ob, nb, block, nullptr)) return false;  // the first block, or none
    quantize_u8(block, nb * count, e.quant.scale, e.quant.zero, e.quant.data + at);
  }
  return true;
}

}  // namespace

void int8_detail::interleave_rows(const uint8_t* const r[4], int64_t n, uint8_t flip, uint8_t pad, uint8_t* out) {
  int64_t q = 0;
#if defined(__SSE2__)
  if (r[0] && r[1] && r[2] && r[3]) {  // byte then word unpacks, 16 columns at a time
    const __m128i f = _mm_set1_epi8(char(flip));
    for (; q + 16 <= n; q += 16) {
      auto load = [&](int b) { return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[b] + q)), f); };
      const __m128i a = load(0), b = load(1), c = load(2), d = load(3);
      const __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b), cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
      __m128i* o = reinterpret_cast<__m128i*>(out + q * 4);
      _mm_storeu_si128(o, _mm_unpacklo_epi16(ab0, cd0));
      _mm_storeu_si128(o + 1, _mm_unpackhi_epi16(ab0, cd0));
      _mm_storeu_si128(o + 2, _mm_unpacklo_epi16(ab1, cd1));
      _mm_storeu_si128(o + 3, _mm_unpackhi_epi16(ab1, cd1));
    }
  }
#elif defined(__aarch64__)
  if (r[0] && r[1] && r[2] && r[3]) {  // one 4-way interleaving store per 16 columns
    const uint8x16_t f = vdupq_n_u8(flip);
    for (; q + 16 <= n; q += 16)
      vst4q_u8(out + q * 4, uint8x16x4_t{{veorq_u8(vld1q_u8(r[0] + q), f), veorq_u8(vld1q_u8(r[1] + q), f),
                                          veorq_u8(vld1q_u8(r[2] + q), f), veorq_u8(vld1q_u8(r[3] + q), f)}});
  }
#endif
  for (; q < n; ++q)
    for (int b = 0; b < 4; ++b) out[q * 4 + b] = r[b] ? uint8_t(r[b][q] ^ flip) : pad;
}

void int8_detail::store_tile(const Int8ConvParams& p, const Int8Weights& w, int64_t oc0, int64_t rows, const int32_t* acc, int64_t ld,
                             const int32_t* col_sums, int64_t count, int64_t out0, int64_t plane, void* y) {
  const int32_t x_zero_u = p.x_signed ? p.x_zero + 128 : p.x_zero;
  auto at = [&](int64_t oc, int64_t q) { return out0 + (oc - oc0) * plane + q; };
  const Int8Epilogue& e = p.out;
  switch (e.kind) {
    case Int8Output::i32:
      finish_tile(w, oc0, rows, acc, ld, col_sums, x_zero_u, count,
                  [&](int64_t oc, int64_t q, int64_t v) { static_cast<int32_t*>(y)[at(oc, q)] = saturate_i32(v); });
      break;
    case Int8Output::q8: {
      const int32_t lo = e.y_signed ? -128 : 0, hi = e.y_signed ? 127 : 255;
      finish_tile(w, oc0, rows, acc, ld, col_sums, x_zero_u, count, [&](int64_t oc, int64_t q, int64_t v) {
        const int64_t b = e.bias_i32 ? e.bias_i32[oc] : 0;
        const int32_t r = quantize_value(e.scale[oc] * float(v + b), e.y_zero, lo, hi);
        static_cast<uint8_t*>(y)[at(oc, q)] = uint8_t(r);
      });
      break;
    }
    case Int8Output::f32: {
      if (finish_rows_in_registers(p, w, oc0, rows, acc, ld, col_sums, x_zero_u, count, out0, plane, y)) break;
      // Row by row: scale and bias; then the activation, residual and
      // rounding while the rows are in cache. Where the tile holds whole
      // planes (count == plane: its rows lie one after another), they are
      // finished a block of rows (about 8 KiB) at a time, not per row: a
      // small map's rows are short (PP-OCR cls: 36 pixels), and a call per
      // row cost more than its work. Elementwise either way: the same bits.
      float* yf = static_cast<float*>(y);
      const int64_t batch = rows_per_block(count, plane);
      for (int64_t ob = oc0; ob < oc0 + rows; ob += batch) {
        const int64_t nb = std::min(batch, oc0 + rows - ob);
        // Rounded to uint8 at the end: the float rows go to scratch.
        float* block = e.quant.data ? thread_scratch<float, 7>(size_t(nb * count)) : yf + at(ob, 0);
        for (int64_t oc = ob; oc < ob + nb; ++oc) {
          const int32_t* a = acc + (oc - oc0) * ld;
          const int64_t wz = w.zero[size_t(oc)];
          const int64_t base = row_correction(w, oc, x_zero_u);
          const float sc = e.scale[oc], b = e.bias_f32 ? e.bias_f32[oc] : 0.f;
          float* row = block + (oc - ob) * count;
          // Where the sums fit 32 bits the vector form computes the same
          // integers and the same float operations.
          const bool fits = correction_fits_32(w, base);
          bool vector_done = false;
          if constexpr (kBuildX86)
            if (use_vnni() && fits) {
              avx512vnni::int8_f32_row(a, count, int32_t(base), int32_t(wz), wz ? col_sums : nullptr, sc, b, row);
              vector_done = true;
            }
          if constexpr (kBuildArm64)
            if (use_sdot() && fits) {
              dotprod::int8_f32_row(a, count, int32_t(base), int32_t(wz), wz ? col_sums : nullptr, sc, b, row);
              vector_done = true;
            }
          if (vector_done) {
          } else if (wz == 0)
            for (int64_t q = 0; q < count; ++q) row[q] = sc * float(int64_t(a[q]) + base) + b;
          else
            for (int64_t q = 0; q < count; ++q) row[q] = sc * float(int64_t(a[q]) + base - wz * col_sums[size_t(q)]) + b;
        }
        const int64_t n = nb * count;
        if (e.act.active()) apply_activation(e.act.act, block, e.act.residual ? e.act.residual + at(ob, 0) : nullptr, n);
        if (e.quant.data) quantize_u8(block, n, e.quant.scale, e.quant.zero, e.quant.data + at(ob, 0));
      }
      break;
    }
  }
}

void int8_conv2d(const Int8ConvParams& p, const void* x, const Int8Weights& w, void* y) {
  if (p.out.quant.data && p.out.kind != Int8Output::f32) fail(StatusCode::internal, "a uint8 rounding of the output is for the float epilogue only");
  const ConvParams& g = p.geo;
  const int64_t cin_g = g.c_in / g.group, cout_g = g.c_out / g.group, plane = g.out_h * g.out_w;
  // The AMX tile GEMM when the weights were prepared for it: k padded to 64
  // (the panel gets zero k-quads up to k64).
  const Int8TileGemm tile = w.tiles.empty() ? nullptr : int8_tile_gemm();
  if (!tile && !w.shifted.empty() && int8_conv_takes_shifted(g)) return int8_detail::conv2d_shifted(p, x, w, y);
  const int64_t k4 = tile ? w.k64 : w.k4;
  const uint8_t flip = p.x_signed ? 0x80 : 0;
  const int32_t x_zero_u = p.x_signed ? p.x_zero + 128 : p.x_zero;
  // Column blocks whose panel (k4 bytes per column) and int32 tile stay in L2.
  int64_t block = std::max<int64_t>(16, ((int64_t(256) << 10) / (k4 + 4 * cout_g)) / 16 * 16);
  const int64_t planes = g.n * g.group;
  // Two tiles per thread: more only re-read the weights per tile (rec int8
  // at 2 threads 4.73 -> 4.60 ms against four, when the split was static;
  // parallel_for_balanced now lets a thread done early take the other's).
  if (num_threads() > 1 && planes * ((plane + block - 1) / block) < 2 * num_threads())
    block = std::max<int64_t>(16, (plane * planes / (2 * num_threads()) + 15) / 16 * 16);
  block = std::min(block, (plane + 15) / 16 * 16);
  block = balanced_block(plane, block, 16, planes, num_threads());
  const int64_t blocks = (plane + block - 1) / block;
  parallel_for_balanced(planes * blocks, [&](int64_t begin, int64_t end) {
    // Per-thread scratch that only grows: every element a tile reads it
    // writes first (a vector resized per call zeroed what a resize up after
    // a smaller conv's resize down added: 2.3% of PP-OCR cls int8 in memset).
    uint8_t* panel = thread_scratch<uint8_t, 3>(size_t(k4 * ((block + 15) / 16 * 16)));
    uint8_t* rows = thread_scratch<uint8_t, 4>(size_t(4 * ((block + 15) / 16 * 16)));
    int32_t* acc = thread_scratch<int32_t, 3>(size_t(cout_g * block));
    int32_t* col_sums = thread_scratch<int32_t, 4>(size_t(block));
    for (int64_t t = begin; t < end; ++t) {
      const int64_t n = t / blocks / g.group, gr = t / blocks % g.group, first = t % blocks * block;
      const int64_t count = std::min(block, plane - first);
      Source s{static_cast<const uint8_t*>(x) + (n * g.c_in + gr * cin_g) * g.h * g.w, g.h, g.w, flip, uint8_t(x_zero_u)};
      build_panel(g, s, cin_g, k4, first, count, panel, w.any_zero ? col_sums : nullptr, rows);
      if (tile) tile(w.tiles.data() + gr * cout_g * k4, k4, cout_g, k4, panel, count, acc, count);
      else int8_gemm(w.data.data() + gr * cout_g * k4, k4, cout_g, k4, panel, count, acc, count);
      int8_detail::store_tile(p, w, gr * cout_g, cout_g, acc, count, col_sums, count,
                              (n * g.c_out + gr * cout_g) * plane + first, plane, y);
    }
  });
}

void int8_conv2d_ref(const Int8ConvParams& p, const void* x, const void* w, bool w_signed, const int32_t* w_zero,
                     int64_t w_zero_count, void* y) {
  const ConvParams& g = p.geo;
  const int64_t cin_g = g.c_in / g.group, cout_g = g.c_out / g.group;
  auto xv = [&](int64_t i) { return p.x_signed ? int32_t(static_cast<const int8_t*>(x)[i]) : int32_t(static_cast<const uint8_t*>(x)[i]); };
  auto wv = [&](int64_t i) { return w_signed ? int32_t(static_cast<const int8_t*>(w)[i]) : int32_t(static_cast<const uint8_t*>(w)[i]); };
  const Int8Epilogue& e = p.out;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oc = 0; oc < g.c_out; ++oc) {
      const int64_t gr = oc / cout_g;
      const int32_t wz = w_zero ? w_zero[w_zero_count == 1 ? 0 : oc] : 0;
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          int64_t s = 0;
          for (int64_t c = 0; c < cin_g; ++c)
            for (int64_t i = 0; i < g.kh; ++i)
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t ih = oh * g.stride_h - g.pad_top + i * g.dil_h, iw = ow * g.stride_w - g.pad_left + j * g.dil_w;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;  // padding: x - x_zero = 0
                const int32_t xi = xv(((n * g.c_in + gr * cin_g + c) * g.h + ih) * g.w + iw) - p.x_zero;
                s += int64_t(xi) * (wv(((oc * cin_g + c) * g.kh + i) * g.kw + j) - wz);
              }
          const int64_t at = ((n * g.c_out + oc) * g.out_h + oh) * g.out_w + ow;
          if (e.kind == Int8Output::i32) {
            static_cast<int32_t*>(y)[at] = saturate_i32(s);
          } else if (e.kind == Int8Output::q8) {
            const int64_t b = e.bias_i32 ? e.bias_i32[oc] : 0;
            const int32_t r = quantize_value(e.scale[oc] * float(s + b), e.y_zero, e.y_signed ? -128 : 0, e.y_signed ? 127 : 255);
            static_cast<uint8_t*>(y)[at] = uint8_t(r);
          } else {
            float v = e.scale[oc] * float(s) + (e.bias_f32 ? e.bias_f32[oc] : 0.f);
            apply_activation_generic(e.act.act, &v, e.act.residual ? e.act.residual + at : nullptr, 1);
            if (e.quant.data) e.quant.data[at] = uint8_t(quantize_value(v / e.quant.scale, e.quant.zero, 0, 255));
            else static_cast<float*>(y)[at] = v;
          }
        }
    }
}

}  // namespace pareto::kernels
