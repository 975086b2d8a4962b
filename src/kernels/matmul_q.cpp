#include "kernels/matmul_q.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "kernels/llm_ops.h"
#include "kernels/quant_dot.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

namespace {
PackedView packed_view(const WeightMatrix& w) {
  return PackedView{static_cast<const uint8_t*>(w.data), static_cast<const uint8_t*>(w.packed_meta), w.rows, w.cols, *packed_kind_for(w.type)};
}

// Repacked weights: activations quantized once into a panel, row ranges split
// across threads, each running the tiled kernel over all tokens.
void matmul_packed(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  thread_local Q8PanelBuffer buffer;
  const PackedView view = packed_view(w);
  Q8Panel panel = buffer.quantize(x, tokens, w.cols, view.kind);
  const PackedGemmFn tiles = tokens >= kPackedTileTokens ? packed_gemm_tiles_fn() : nullptr;
  const PackedGemmFn gemm = tiles ? tiles : packed_gemm_fn();
  thread_local Q8TilePanel tile_panel;
  if (tiles) {  // the panel in tile order once for all threads
    tile_panel.build(panel);
    panel.tiles = &tile_panel;
  }
  // Ranges in multiples of the widest row tile (AMX 16, VNNI 4) keep every thread on it.
  const int64_t step = tiles ? 16 : 4, groups = (w.rows + step - 1) / step;
  parallel_for(groups, [&](int64_t g0, int64_t g1) { gemm(view, g0 * step, std::min(w.rows, g1 * step), panel, y, w.rows); });
}
}  // namespace

void weight_row(const WeightMatrix& w, int64_t r, float* out) {
  if (w.packed_meta) return packed_row(packed_view(w), r, out);
  if (w.type == uint32_t(GgmlType::f16))  // F16C where the CPU has it
    return f16_to_f32_row(static_cast<const uint16_t*>(w.data) + r * w.cols, out, w.cols);
  size_t row_bytes = ggml_row_size(w.type, w.cols);
  dequantize_row_ref(w.type, static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes, out, w.cols);
}

namespace {

// Dot product with 8 independent partial sums: vectorizable without
// reassociating a single accumulator (no -ffast-math needed).
inline float dot8(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[k + j] * b[k + j];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; k < n; ++k) s += a[k] * b[k];
  return s;
}

// Decode path (one or two tokens): each row is dequantized a block at a time
// into a stack buffer and dotted with x, so weights are read once and never
// written back out. Rows split across threads.
void matvec_weights(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  const GgmlTypeTraits& tr = ggml_type_traits(w.type);
  DequantBlockFn block = dequantize_block_fn(w.type);
  const size_t row_bytes = ggml_row_size(w.type, w.cols);
  const int64_t bs = tr.block_size, nb = w.cols / bs;
  parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    float buf[256];
    std::vector<float> full;
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes;
      for (int64_t t = 0; t < tokens; ++t) {
        const float* xt = x + t * w.cols;
        float acc = 0.f;
        if (w.type == uint32_t(GgmlType::f32)) {
          acc = dot8(reinterpret_cast<const float*>(row), xt, w.cols);
        } else if (block) {
          for (int64_t b = 0; b < nb; ++b) {
            block(row + size_t(b) * tr.type_size, buf);
            acc += dot8(buf, xt + b * bs, bs);
          }
        } else {  // f16 / bf16 rows
          full.resize(size_t(w.cols));
          dequantize_row_ref(w.type, row, full.data(), w.cols);
          acc = dot8(full.data(), xt, w.cols);
        }
        y[t * w.rows + r] = acc;
      }
    }
  });
}

}  // namespace

// Activations quantized once per token to Q8A blocks: the first `cols`
// values of each token's row of `stride` (whole blocks of 32).
static const Q8aBlock* quantize_q8a(const float* x, int64_t tokens, int64_t cols, int64_t stride) {
  thread_local std::vector<Q8aBlock> xq;
  const int64_t nb = cols / 32;
  xq.resize(size_t(tokens * nb));
  for (int64_t t0 = 0; t0 < tokens; ++t0) quant_dot_table().quantize(x + t0 * stride, cols, xq.data() + t0 * nb);
  return xq.data();
}
static const Q8aBlock* quantize_q8a(const float* x, int64_t tokens, int64_t cols) { return quantize_q8a(x, tokens, cols, cols); }

// pareto's group-wise formats on the integer path: each row's whole groups
// unpacked once, then dotted with every token; a short last group (rows
// that are not whole groups, e.g. a 172-wide FFN) is decoded to floats and
// dotted with the float activations.
static bool matvec_group(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  const GroupFormat f = group_format(w.type);
  // Rows of whole 32s unpack entirely (a short last group of 32s included);
  // otherwise the whole groups do and the last group goes the float way.
  const int64_t whole = w.cols % 32 == 0 ? w.cols : w.cols / f.group * f.group, tail = w.cols - whole;
  if (whole == 0 || whole % 32) return false;
  const QuantDotTable& t = quant_dot_table();
  const Q8aBlock* xs = quantize_q8a(x, tokens, whole, w.cols);
  const int64_t nb = whole / 32;
  const size_t row_bytes = ggml_row_size(w.type, w.cols), tail_at = size_t(whole / f.group) * group_block_bytes(f);
  parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    // Per worker thread, reused across calls: no allocation per token.
    thread_local std::vector<uint8_t> codes;
    thread_local std::vector<float> dm, tail_values;
    codes.resize(size_t(whole));
    dm.resize(size_t(2 * nb));
    tail_values.resize(size_t(tail));
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes;
      t.group_unpack(row, whole, f, codes.data(), dm.data());
      if (tail) dequantize_group_row_ref(f, row + tail_at, tail_values.data(), tail);
      for (int64_t t0 = 0; t0 < tokens; ++t0) {
        float acc = t.codes_dot(codes.data(), dm.data(), xs + t0 * nb, whole);
        const float* xt = x + t0 * w.cols + whole;
        for (int64_t i = 0; i < tail; ++i) acc += tail_values[size_t(i)] * xt[i];
        y[t0 * w.rows + r] = acc;
      }
    }
  });
  return true;
}

// W8A8: activations quantized per token (one scale each), int8 x int8 tiles.
static void matmul_q8_row(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  const QuantDotTable& t = quant_dot_table();
  thread_local std::vector<uint8_t> xq;
  thread_local std::vector<float> xs;
  xq.resize(size_t(tokens * w.cols));
  xs.resize(size_t(tokens));
  for (int64_t i = 0; i < tokens; ++i) t.quantize_token(x + i * w.cols, w.cols, xq.data() + i * w.cols, xs.data() + i);
  const uint8_t* wd = static_cast<const uint8_t*>(w.data);
  // Plain pointers: inside the lambda a thread_local name means the worker's own copy.
  const uint8_t* xqp = xq.data();
  const float* xsp = xs.data();
  const int64_t quads = (w.rows + 3) / 4;
  parallel_for(quads, [&](int64_t q0, int64_t q1) { t.q8_row(wd, w.cols, q0 * 4, std::min(w.rows, q1 * 4), xqp, xsp, tokens, y, w.rows); });
}

// F16 / BF16 batches on the tiled kernel (x: f32 for F16, BF16 for BF16
// weights), row ranges (multiples of 8, its widest tile) split across threads.
static void matmul_half(const WeightMatrix& w, const void* x, int64_t tokens, float* y) {
  const auto* wd = static_cast<const uint16_t*>(w.data);
  const bool bf16 = w.type == uint32_t(GgmlType::bf16);
  // BF16 batches of whole 16-token tiles on AMX where the CPU has it (rows in 32s: two row tiles per pass).
  if (const Bf16TilesFn tiles = bf16 && tokens >= 16 && w.cols % 32 == 0 ? quant_dot_table().bf16_tiles : nullptr) {
    thread_local std::vector<uint16_t> panel;
    bf16_tile_panel(static_cast<const uint16_t*>(x), tokens, w.cols, panel);
    const int64_t pairs = (w.rows + 31) / 32;
    parallel_for(pairs, [&](int64_t p0, int64_t p1) { tiles(wd, w.cols, p0 * 32, std::min(w.rows, p1 * 32), panel.data(), tokens, y, w.rows); });
    return;
  }
  const HalfGemmFn gemm = quant_dot_table().half_gemm;
  const int64_t octets = (w.rows + 7) / 8;
  parallel_for(octets, [&](int64_t q0, int64_t q1) { gemm(wd, bf16, w.cols, q0 * 8, std::min(w.rows, q1 * 8), x, tokens, y, w.rows); });
}

// Activations for a BF16 matrix are rounded to BF16 once per matmul on
// every path (batch kernel, row dots, f32 GEMM) so that results do not
// depend on the batch size or the CPU; the paths taking f32 get them widened back.
static const uint16_t* bf16_rounded(const float* x, int64_t n) {
  thread_local std::vector<uint16_t> rounded;
  rounded.resize(size_t(n));
  bf16_round_row_ref(x, rounded.data(), n);
  return rounded.data();
}
static const float* bf16_widened(const uint16_t* x, int64_t n) {
  thread_local std::vector<float> widened;
  widened.resize(size_t(n));
  bf16_widen_row_ref(x, widened.data(), n);
  return widened.data();
}

// Rows streamed through integer (or, for F16/BF16, widening float) dot
// products: activations quantized once to Q8A, rows dotted with integer
// multiply-adds (vpdpbusd where available).
static bool matvec_int8(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  const QuantDotTable& t = quant_dot_table();
  const bool f32 = w.type == uint32_t(GgmlType::f32);
  // Float rows for decode (F32: one or two tokens; more run the f32 GEMM),
  // several rows per pass; a block of rows stays in L2 for the tokens.
  const FloatRowsDotFn rows_dot = w.type == uint32_t(GgmlType::f16)    ? t.f16_rows
                                  : w.type == uint32_t(GgmlType::bf16) ? t.bf16_rows
                                  : f32 && tokens <= 2                 ? t.f32_rows
                                                                       : nullptr;
  if (rows_dot) {
    const int64_t row_bytes = w.cols * (f32 ? 4 : 2), block = std::max<int64_t>(4, (int64_t(256) << 10) / row_bytes / 4 * 4);
    parallel_for((w.rows + block - 1) / block, [&](int64_t b0, int64_t b1) {
      for (int64_t r = b0 * block; r < std::min(w.rows, b1 * block); r += block)
        for (int64_t t0 = 0; t0 < tokens; ++t0)
          rows_dot(static_cast<const uint8_t*>(w.data) + r * row_bytes, row_bytes, std::min(block, w.rows - r), x + t0 * w.cols, w.cols,
                   y + t0 * w.rows + r);
    });
    return true;
  }
  const F16DotFn fdot = w.type == uint32_t(GgmlType::f16) ? t.f16 : w.type == uint32_t(GgmlType::bf16) ? t.bf16 : nullptr;
  if (fdot) {  // float activations, weights widened in registers
    const size_t row_bytes = size_t(w.cols) * 2;
    parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t t0 = 0; t0 < tokens; ++t0)
          y[t0 * w.rows + r] = fdot(static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes, x + t0 * w.cols, w.cols);
    });
    return true;
  }
  if (is_group_type(w.type)) return matvec_group(w, x, tokens, y);
  QuantDotFn dot = nullptr;
  switch (GgmlType(w.type)) {
    case GgmlType::q4_0: dot = t.q4_0; break;
    case GgmlType::q4_1: dot = t.q4_1; break;
    case GgmlType::q5_0: dot = t.q5_0; break;
    case GgmlType::q8_0: dot = t.q8_0; break;
    case GgmlType::q3_k: dot = t.q3_k; break;
    case GgmlType::q4_k: dot = t.q4_k; break;
    case GgmlType::q5_k: dot = t.q5_k; break;
    case GgmlType::q6_k: dot = t.q6_k; break;
    default: break;
  }
  if (!dot || w.cols % 32) return false;
  const Q8aBlock* xs = quantize_q8a(x, tokens, w.cols);
  const int64_t nb = w.cols / 32;
  const size_t row_bytes = ggml_row_size(w.type, w.cols);
  parallel_for(w.rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = static_cast<const uint8_t*>(w.data) + size_t(r) * row_bytes;
      for (int64_t t0 = 0; t0 < tokens; ++t0) y[t0 * w.rows + r] = dot(row, xs + t0 * nb, w.cols);
    }
  });
  return true;
}

void matmul_weights(const WeightMatrix& w, const float* x, int64_t tokens, float* y) {
  if (w.packed_meta) return matmul_packed(w, x, tokens, y);
  if (w.type == kQ8RowType) return matmul_q8_row(w, x, tokens, y);
  // Half-precision weights for a batch: widening 64 rows at a time for the
  // f32 GEMM costs one conversion per weight, the row dots one per weight
  // and token.
  const bool half = w.type == uint32_t(GgmlType::f16) || w.type == uint32_t(GgmlType::bf16);
  const bool half_batch = half && tokens >= 4 && quant_dot_table().half_gemm;
  if (w.type == uint32_t(GgmlType::bf16)) {
    const uint16_t* xb = bf16_rounded(x, tokens * w.cols);
    if (half_batch) return matmul_half(w, xb, tokens, y);
    x = bf16_widened(xb, tokens * w.cols);
  } else if (half_batch) {
    return matmul_half(w, x, tokens, y);
  }
  // For the other types without a packed layout the row-streaming int8 path
  // beats dequantizing to f32 for any batch: each row is read once for all tokens.
  if (!(half && tokens >= 4) && matvec_int8(w, x, tokens, y)) return;
  if (tokens <= 2) {
    matvec_weights(w, x, tokens, y);
    return;
  }
  const bool is_f32 = w.type == uint32_t(GgmlType::f32);
  // 64 rows per block: the dequantized block stays in L2, and blocks split across threads.
  constexpr int64_t kRows = 64;
  int64_t blocks = (w.rows + kRows - 1) / kRows;
  int threads = num_threads();
  auto run = [&](int64_t b0, int64_t b1) {
    thread_local std::vector<float> tmp;
    for (int64_t b = b0; b < b1; ++b) {
      int64_t r0 = b * kRows, n = std::min(kRows, w.rows - r0);
      const float* rows;
      if (is_f32) {
        rows = static_cast<const float*>(w.data) + r0 * w.cols;
      } else {
        tmp.resize(size_t(kRows * w.cols));
        for (int64_t r = 0; r < n; ++r) weight_row(w, r0 + r, tmp.data() + r * w.cols);
        rows = tmp.data();
      }
      GemmArgs g;
      g.trans_b = true;
      g.m = tokens;
      g.n = n;
      g.k = w.cols;
      g.a = x;
      g.lda = w.cols;
      g.b = rows;
      g.ldb = w.cols;
      g.c = y + r0;
      g.ldc = w.rows;
      f32_gemm(g);
    }
  };
  if (threads > 1 && blocks > 1) parallel_for(blocks, run);
  else run(0, blocks);
}

}  // namespace pareto::kernels
