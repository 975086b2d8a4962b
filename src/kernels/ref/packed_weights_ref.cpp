// Portable side of the packed-weight kernels: row dequantization, activation
// panels and the reference matrix product the SIMD variant is tested against
// (repacking is in packed_pack_ref.cpp).
#include <algorithm>
#include <cstring>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/packed_weights.h"
#include "kernels/quant_formats.h"

namespace pareto::kernels {

namespace {

// Position of element k (0..31) of block l (0..15) within a 512-element
// activation chunk.
inline int64_t chunk_element(int l, int k) { return 64 * (k / 4) + 4 * l + k % 4; }

inline int plane_bit(const uint8_t* plane, int step, int l, int k) {
  const int bit = 4 * l + k % 4;
  return (plane[8 * step + bit / 8] >> (bit % 8)) & 1;
}

// Stored (unsigned) value of element k of block l of a packed chunk of `blocks` blocks.
int packed_value(PackedKind kind, const uint8_t* q, int blocks, int l, int k) {
  const int step = 4 * blocks;
  if (kind == PackedKind::q8_0) return q[step * (k / 4) + 4 * l + k % 4];
  if (packed_crumbs(kind)) {  // crumbs and Q3_K's high bits, 64-byte vectors whatever `blocks`
    const int s = k / 4, lane = 4 * l + k % 4;
    int v = (q[64 * (s / 4) + lane] >> (2 * (s % 4))) & 3;
    if (kind == PackedKind::q3_k) v |= ((q[128 + lane] >> s) & 1) << 2;
    return v;
  }
  int v = 0, bit = 0;
  const uint8_t* planes = q;
  if (packed_nibbles(kind)) {
    const uint8_t byte = q[step * ((k % 16) / 4) + 4 * l + k % 4];
    v = k < 16 ? byte & 0xF : byte >> 4;
    bit = 4;
    planes += 4 * step;
  }
  for (int p = 0; p < packed_high_bits(kind); ++p) v |= plane_bit(planes + 64 * p, k / 4, l, k) << (bit + p);
  return packed_lookup(kind) ? kIq4nlValues[v] + 128 : v;
}

// Chunk c of row r: its quant bits, meta bytes and block count.
struct ChunkRef {
  const uint8_t* q;
  const uint8_t* meta;
  int blocks;
};
ChunkRef chunk_of(const PackedView& w, int64_t r, int64_t c) {
  const int64_t chunks = packed_chunks(w.cols);
  return {w.qs + size_t(r) * packed_row_qs_bytes(w.kind, w.cols) + size_t(c) * packed_chunk_qs_bytes(w.kind),
          w.meta + size_t(r * chunks + c) * packed_chunk_meta_bytes(w.kind), int(std::min<int64_t>(16, w.cols / 32 - 16 * c))};
}

float f32_at(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// Scales of block l of a chunk, as the SIMD kernel forms them: the value of
// an element is scale * stored - min (Q4_K, Q5_K), scale * (stored - offset)
// (Q4_0, Q8_0), or scale resp. scale_hi * (stored - 32) for the first resp.
// last 16 elements (Q6_K).
struct BlockScales {
  float scale, scale_hi, min, min_hi;
};
BlockScales block_scales(PackedKind kind, const uint8_t* meta, int l) {
  switch (kind) {
    case PackedKind::q4_0: case PackedKind::q8_0: case PackedKind::q5_0: case PackedKind::iq4_nl: {
      const float d = f16_at(meta + 2 * l);
      return {d, d, 0.f, 0.f};
    }
    case PackedKind::q4_1: case PackedKind::q5_1: {
      const float d = f16_at(meta + 2 * l), m = f16_at(meta + 32 + 2 * l);
      return {d, d, m, m};
    }
    case PackedKind::iq4_xs: {
      const float s = f32_at(meta + 4 * (l / 8)) * float(int8_t(meta[8 + l]));
      return {s, s, 0.f, 0.f};
    }
    case PackedKind::q2_k: {
      const float d = f32_at(meta + 4 * (l / 8)), dmin = f32_at(meta + 8 + 4 * (l / 8));
      const uint8_t lo = meta[16 + l], hi = meta[32 + l];
      return {d * float(lo & 0xF), d * float(hi & 0xF), dmin * float(lo >> 4), dmin * float(hi >> 4)};
    }
    case PackedKind::q4_k: case PackedKind::q5_k: {
      const float s = f32_at(meta + 4 * (l / 8)) * float(meta[16 + l]), m = f32_at(meta + 8 + 4 * (l / 8)) * float(meta[32 + l]);
      return {s, s, m, m};
    }
    case PackedKind::q6_k: case PackedKind::q3_k: {
      const float d = f32_at(meta + 4 * (l / 8));
      const float lo = d * float(int8_t(meta[8 + l])), hi = d * float(int8_t(meta[24 + l]));
      return {lo, hi, 0.f, 0.f};
    }
  }
  return {};
}

}  // namespace

void packed_row(const PackedView& w, int64_t r, float* out) {
  for (int64_t c = 0; c < packed_chunks(w.cols); ++c) {
    const ChunkRef ch = chunk_of(w, r, c);
    for (int l = 0; l < ch.blocks; ++l) {
      float* o = out + c * kPackedChunk + 32 * l;
      auto value = [&](int k) { return packed_value(w.kind, ch.q, ch.blocks, l, k); };
      // Operation order of GGML's dequantizers, so rows match bit for bit.
      switch (w.kind) {
        case PackedKind::q4_0: case PackedKind::q8_0: case PackedKind::q5_0: {
          const float d = f16_at(ch.meta + 2 * l);
          for (int k = 0; k < 32; ++k) o[k] = float(value(k) - packed_offset(w.kind)) * d;
          break;
        }
        case PackedKind::q4_1: case PackedKind::q5_1: {
          const float d = f16_at(ch.meta + 2 * l), m = -f16_at(ch.meta + 32 + 2 * l);
          for (int k = 0; k < 32; ++k) o[k] = float(value(k)) * d + m;
          break;
        }
        case PackedKind::iq4_nl: case PackedKind::iq4_xs: {
          const float d = block_scales(w.kind, ch.meta, l).scale;
          for (int k = 0; k < 32; ++k) o[k] = d * float(value(k) - 128);
          break;
        }
        case PackedKind::q4_k: case PackedKind::q5_k: {
          const BlockScales s = block_scales(w.kind, ch.meta, l);
          for (int k = 0; k < 32; ++k) o[k] = s.scale * float(value(k)) - s.min;
          break;
        }
        case PackedKind::q6_k: {
          const float d = f32_at(ch.meta + 4 * (l / 8));
          for (int k = 0; k < 32; ++k) {
            const int8_t sc = int8_t(ch.meta[(k < 16 ? 8 : 24) + l]);
            o[k] = d * float(sc) * float(value(k) - 32);
          }
          break;
        }
        case PackedKind::q3_k: case PackedKind::q2_k: {
          const BlockScales s = block_scales(w.kind, ch.meta, l);
          const int offset = packed_half_offset(w.kind);
          for (int k = 0; k < 32; ++k) o[k] = (k < 16 ? s.scale : s.scale_hi) * float(value(k) - offset) - (k < 16 ? s.min : s.min_hi);
          break;
        }
      }
    }
  }
}

Q8Panel Q8PanelBuffer::quantize(const float* x, int64_t tokens, int64_t cols, PackedKind kind) {
  const int64_t nb = cols / 32, stride = packed_chunks(cols) * kPackedChunk, nbp = stride / 32;
  const QuantDotTable& t = quant_dot_table();
  const bool mins = packed_has_mins(kind), half_offsets = packed_half_offset(kind) != 0, half_mins = kind == PackedKind::q2_k;
  // A short last chunk must read as zeros: only then are the arrays cleared
  // (otherwise every entry is written below). +64: the int8 rows start on a
  // cache line.
  const bool padded = stride != cols;
  auto size = [&](auto& v, int64_t n) {
    if (padded) v.assign(size_t(n), 0);
    else if (v.size() < size_t(n)) v.resize(size_t(n));
  };
  size(qs, tokens * stride + 64);
  size(d, tokens * nbp);
  size(off, tokens * nbp);
  if (mins) size(dsum, tokens * nbp);
  if (half_offsets) size(off16, 2 * tokens * nbp);
  if (half_mins) size(dsum16, 2 * tokens * nbp);
  if (blocks.size() < size_t(nb)) blocks.resize(size_t(nb));
  int8_t* base = qs.data() + ((64 - reinterpret_cast<uintptr_t>(qs.data()) % 64) % 64);
  const int offset = packed_offset(kind);
  for (int64_t tok = 0; tok < tokens; ++tok) {
    t.quantize(x + tok * cols, cols, blocks.data());
    int8_t* out = base + tok * stride;
    for (int64_t b = 0; b < nb; ++b) {
      const Q8aBlock& blk = blocks[size_t(b)];
      const int l = int(b % 16);
      int8_t* chunk = out + (b / 16) * 512;
      // four elements at a time: the 4-byte groups move as one
      for (int k = 0; k < 32; k += 4) std::memcpy(chunk + chunk_element(l, k), blk.qs + k, 4);
      const size_t at = size_t(tok * nbp + b);
      d[at] = blk.d;
      off[at] = -offset * blk.sum;
      if (mins) dsum[at] = blk.d * float(blk.sum);
      if (half_offsets || half_mins) {
        int32_t lo = 0;
        for (int k = 0; k < 16; ++k) lo += blk.qs[k];
        const size_t at16 = size_t(2 * (tok * nbp + (b - l)) + l);
        if (half_offsets) {
          off16[at16] = -packed_half_offset(kind) * lo;
          off16[at16 + 16] = -packed_half_offset(kind) * (blk.sum - lo);
        } else {
          dsum16[at16] = blk.d * float(lo);
          dsum16[at16 + 16] = blk.d * float(blk.sum - lo);
        }
      }
    }
  }
  return Q8Panel{base, d.data(), off.data(), mins ? dsum.data() : nullptr, half_offsets ? off16.data() : nullptr,
                 half_mins ? dsum16.data() : nullptr, tokens, cols};
}

void Q8TilePanel::build(const Q8Panel& x) {
  nbp = packed_chunks(x.cols) * 16;
  groups = (x.tokens + 15) / 16;
  qs.resize(size_t(groups * nbp * kTileBytes));
  auto size = [&](const void* src, auto& dst, int64_t per_token) {
    if (src) dst.resize(size_t(groups * per_token * 16));
  };
  size(x.d, d, nbp);
  size(x.off, off, nbp);
  size(x.dsum, dsum, nbp);
  size(x.off16, off16, 2 * nbp);
  size(x.dsum16, dsum16, 2 * nbp);
  parallel_for(groups, [&](int64_t g0, int64_t g1) {
    // Token t's values go to lane t % 16 of its group; padding tokens are zeros.
    auto spread = [&](const auto* src, auto& dst, int64_t per_token, int64_t g) {
      if (!src) return;
      std::fill(dst.begin() + g * per_token * 16, dst.begin() + (g + 1) * per_token * 16, 0);
      for (int64_t tok = g * 16; tok < std::min(x.tokens, g * 16 + 16); ++tok)
        for (int64_t j = 0; j < per_token; ++j) dst[size_t((g * per_token + j) * 16 + tok % 16)] = src[tok * per_token + j];
    };
    for (int64_t g = g0; g < g1; ++g) {
      spread(x.d, d, nbp, g);
      spread(x.off, off, nbp, g);
      spread(x.dsum, dsum, nbp, g);
      spread(x.off16, off16, 2 * nbp, g);
      spread(x.dsum16, dsum16, 2 * nbp, g);
      int8_t* group = qs.data() + g * nbp * kTileBytes;
      std::fill(group, group + nbp * kTileBytes, int8_t(0));
      for (int64_t tok = g * 16; tok < std::min(x.tokens, g * 16 + 16); ++tok) {
        const int8_t* src = x.qs + tok * nbp * 32;
        int8_t* dst = group + (tok % 16) * 4;
        // element 4s + e of block l sits at 64 s + 4 l + e of the panel's chunk
        for (int64_t blk = 0; blk < nbp; ++blk)
          for (int s = 0; s < 8; ++s) std::memcpy(dst + blk * kTileBytes + 64 * s, src + (blk / 16) * 512 + 64 * s + 4 * (blk % 16), 4);
      }
    }
  });
}

void packed_gemm_ref(const PackedView& w, int64_t r0, int64_t r1, const Q8Panel& x, float* y, int64_t ldy) {
  const int64_t chunks = packed_chunks(w.cols), nbp = chunks * 16;
  const bool mins = packed_has_mins(w.kind), halves = packed_halves(w.kind);
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t tok = 0; tok < x.tokens; ++tok) {
      float acc = 0.f;
      for (int64_t c = 0; c < chunks; ++c) {
        const ChunkRef ch = chunk_of(w, r, c);
        const int8_t* a = x.qs + tok * nbp * 32 + c * kPackedChunk;
        for (int l = 0; l < ch.blocks; ++l) {
          const int64_t at = tok * nbp + c * 16 + l;
          const BlockScales s = block_scales(w.kind, ch.meta, l);
          int32_t lo = 0, hi = 0;
          for (int k = 0; k < 16; ++k) lo += packed_value(w.kind, ch.q, ch.blocks, l, k) * a[chunk_element(l, k)];
          for (int k = 16; k < 32; ++k) hi += packed_value(w.kind, ch.q, ch.blocks, l, k) * a[chunk_element(l, k)];
          if (halves) {
            const size_t at16 = size_t(2 * (tok * nbp + c * 16) + l);
            if (x.off16) {
              lo += x.off16[at16];
              hi += x.off16[at16 + 16];
            }
            acc += float(lo) * (s.scale * x.d[at]) + float(hi) * (s.scale_hi * x.d[at]);
            if (x.dsum16) acc -= s.min * x.dsum16[at16] + s.min_hi * x.dsum16[at16 + 16];
          } else {
            acc += float(lo + hi + x.off[at]) * (s.scale * x.d[at]);
            if (mins) acc -= s.min * x.dsum[at];
          }
        }
      }
      y[tok * ldy + r] = acc;
    }
}

}  // namespace pareto::kernels
