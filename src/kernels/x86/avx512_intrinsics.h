// <immintrin.h> for the AVX-512 kernel files. GCC 12's AVX-512 intrinsic
// wrappers (max, min, roundscale, scalef ...) pass _mm512_undefined_ps() as
// the source of masked-off lanes and then warn that it may be used
// uninitialized (GCC bug 105593); nothing reads those lanes, so the two
// warnings are off in the files that include this.
#pragma once
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
