// <immintrin.h> for the AVX-512 kernel files. GCC 12's AVX-512 intrinsic
// wrappers (max, min, roundscale, scalef ...) pass _mm512_undefined_ps() as
// the source of masked-off lanes and then warn that it may be used
// uninitialized (GCC bug 105593); nothing reads those lanes, so the two
// warnings are off in the files that include this.
#pragma once
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>

// The first k of 16 lanes (none for k <= 0, all for k >= 16): the mask of
// a vector's part inside a row, for masked loads and stores at its end.
inline __mmask16 first_lanes(int64_t k) { return k >= 16 ? __mmask16(0xFFFF) : k <= 0 ? __mmask16(0) : __mmask16((1u << k) - 1u); }
