// The AMX tile operations the kernels use, as macros over the compiler's
// intrinsics (tile numbers must be constants), or, with PARETO_AMX_EMULATE,
// over a software model of the eight tile registers written from the
// pseudocode of Intel's SDM. The emulated build of the same kernel source
// runs in the unit tests on CPUs without AMX, so the tile layouts, tile
// shapes and scale handling are checked everywhere; the hardware build is
// checked where the CPU has AMX. The model stops on the configuration and
// shape errors the hardware faults on (#GP / #UD) that these kernels could
// make; it does not model BF16 denormal flushing (DAZ/FTZ).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pareto::kernels::amx_tiles {

// LDTILECFG's 64-byte operand, palette 1: per tile its rows and bytes per row.
struct TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
  void set(int tile, int n_rows, int bytes_per_row) {
    rows[tile] = uint8_t(n_rows);
    colsb[tile] = uint16_t(bytes_per_row);
  }
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

}  // namespace pareto::kernels::amx_tiles

// The namespace of a kernel built from the same source: amx (hardware) or
// amx_emulated (tests).
#if PARETO_AMX_EMULATE
#define PARETO_AMX_NS amx_emulated
#else
#define PARETO_AMX_NS amx
#endif

#if PARETO_AMX_EMULATE

namespace pareto::kernels::amx_tiles::emulated {

struct Tiles {
  TileConfig cfg;
  alignas(64) uint8_t t[8][16][64];
};
inline thread_local Tiles tiles;

// The hardware faults on shapes the configuration does not allow; the model
// stops the test run with the reason instead.
inline void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "emulated AMX: %s\n", what);
    std::abort();
  }
}
inline void load_config(const TileConfig* c) {
  tiles.cfg = *c;
  std::memset(tiles.t, 0, sizeof tiles.t);
  check(c->palette == 1 && c->start_row == 0, "palette must be 1 and start_row 0");
  for (uint8_t b : c->reserved) check(b == 0, "reserved config bytes must be zero");
  for (int i = 0; i < 16; ++i) {
    check(i < 8 || (c->rows[i] == 0 && c->colsb[i] == 0), "palette 1 has 8 tiles");
    check((c->rows[i] == 0) == (c->colsb[i] == 0), "a tile with rows but no bytes, or the reverse");
    check(c->rows[i] <= 16 && c->colsb[i] <= 64, "tile larger than 16 rows x 64 bytes");
  }
}
// Rows and bytes beyond the configured shape read as zero.
inline void load(int t, const void* base, int64_t stride) {
  std::memset(tiles.t[t], 0, sizeof tiles.t[t]);
  for (int r = 0; r < tiles.cfg.rows[t]; ++r) std::memcpy(tiles.t[t][r], static_cast<const uint8_t*>(base) + r * stride, tiles.cfg.colsb[t]);
}
inline void store(int t, void* base, int64_t stride) {
  for (int r = 0; r < tiles.cfg.rows[t]; ++r) std::memcpy(static_cast<uint8_t*>(base) + r * stride, tiles.t[t][r], tiles.cfg.colsb[t]);
}
inline void zero(int t) { std::memset(tiles.t[t], 0, sizeof tiles.t[t]); }
// The shape rules of TDPB*D / TDPBF16PS: C is M x N dwords, A is M x K
// dwords, B is K x N dwords.
inline void check_shapes(int d, int a, int b) {
  const TileConfig& c = tiles.cfg;
  check(c.rows[d] && c.rows[a] && c.rows[b], "tile not configured");
  check(c.rows[d] == c.rows[a], "A and C rows differ");
  check(c.colsb[b] == c.colsb[d], "B and C widths differ");
  check(c.rows[b] * 4 == c.colsb[a], "B rows != A dwords per row");
  check(c.colsb[a] % 4 == 0 && c.colsb[d] % 4 == 0, "width not a multiple of 4 bytes");
}
// TDPB[SU][SU]D: C[m][n] += sum over k of four byte products A[m][4k+i] *
// B[k][4n+i], each operand signed or unsigned as the instruction says.
template <bool ASigned, bool BSigned>
inline void dp_bytes(int d, int a, int b) {
  check_shapes(d, a, b);
  const TileConfig& c = tiles.cfg;
  auto value = [](uint8_t v, bool is_signed) { return is_signed ? int32_t(int8_t(v)) : int32_t(v); };
  for (int m = 0; m < c.rows[d]; ++m)
    for (int n = 0; n < c.colsb[d] / 4; ++n) {
      int32_t acc;
      std::memcpy(&acc, &tiles.t[d][m][4 * n], 4);
      for (int k = 0; k < c.colsb[a] / 4; ++k)
        for (int i = 0; i < 4; ++i) acc += value(tiles.t[a][m][4 * k + i], ASigned) * value(tiles.t[b][k][4 * n + i], BSigned);
      std::memcpy(&tiles.t[d][m][4 * n], &acc, 4);
    }
}
inline float bf16_value(const uint8_t* p) {
  uint32_t bits = uint32_t(p[0] | (p[1] << 8)) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
// TDPBF16PS: C[m][n] += A[m][2k] * B[k][2n] then += A[m][2k+1] * B[k][2n+1],
// k ascending (the products of two BF16 values are exact in f32).
inline void dpbf16ps(int d, int a, int b) {
  check_shapes(d, a, b);
  const TileConfig& c = tiles.cfg;
  for (int m = 0; m < c.rows[d]; ++m)
    for (int n = 0; n < c.colsb[d] / 4; ++n) {
      float acc;
      std::memcpy(&acc, &tiles.t[d][m][4 * n], 4);
      for (int k = 0; k < c.colsb[a] / 4; ++k)
        for (int i = 0; i < 2; ++i) acc += bf16_value(&tiles.t[a][m][4 * k + 2 * i]) * bf16_value(&tiles.t[b][k][4 * n + 2 * i]);
      std::memcpy(&tiles.t[d][m][4 * n], &acc, 4);
    }
}

}  // namespace pareto::kernels::amx_tiles::emulated

#define PARETO_TILE_CONFIG(cfg) ::pareto::kernels::amx_tiles::emulated::load_config(cfg)
#define PARETO_TILE_LOAD(t, base, stride) ::pareto::kernels::amx_tiles::emulated::load(t, base, stride)
#define PARETO_TILE_STORE(t, base, stride) ::pareto::kernels::amx_tiles::emulated::store(t, base, stride)
#define PARETO_TILE_ZERO(t) ::pareto::kernels::amx_tiles::emulated::zero(t)
#define PARETO_TILE_DPBUSD(d, a, b) ::pareto::kernels::amx_tiles::emulated::dp_bytes<false, true>(d, a, b)
#define PARETO_TILE_DPBSUD(d, a, b) ::pareto::kernels::amx_tiles::emulated::dp_bytes<true, false>(d, a, b)
#define PARETO_TILE_DPBF16PS(d, a, b) ::pareto::kernels::amx_tiles::emulated::dpbf16ps(d, a, b)
#define PARETO_TILE_RELEASE() ((void)0)

#else

#include <immintrin.h>

// GCC's asm statements for these name neither the memory they read (the
// whole 64-byte config, the tile rows) nor what a store writes: the
// compiler barriers make earlier stores visible to them and later loads
// see theirs.
#define PARETO_AMX_BARRIER() __asm__ volatile("" ::: "memory")
#define PARETO_TILE_CONFIG(cfg) \
  do {                          \
    PARETO_AMX_BARRIER();       \
    _tile_loadconfig(cfg);      \
  } while (0)
#define PARETO_TILE_LOAD(t, base, stride) \
  do {                                    \
    PARETO_AMX_BARRIER();                 \
    _tile_loadd(t, base, stride);         \
  } while (0)
#define PARETO_TILE_STORE(t, base, stride) \
  do {                                     \
    _tile_stored(t, base, stride);         \
    PARETO_AMX_BARRIER();                  \
  } while (0)
#define PARETO_TILE_ZERO(t) _tile_zero(t)
#define PARETO_TILE_DPBUSD(d, a, b) _tile_dpbusd(d, a, b)
#define PARETO_TILE_DPBSUD(d, a, b) _tile_dpbsud(d, a, b)
#define PARETO_TILE_DPBF16PS(d, a, b) _tile_dpbf16ps(d, a, b)
#define PARETO_TILE_RELEASE() _tile_release()

#endif
