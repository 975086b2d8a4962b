// How the float GEMM conv cuts a map's columns into tiles for the threads
// (kernels::conv_column_block).
#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"

using namespace pareto;
using namespace pareto::kernels;

// The float GEMM conv's tiles take the int8 conv's re-cut (balanced_block,
// in whole GEMM panels: 48 columns with AVX-512, else 32): PP-OCR det's
// 192 -> 192 1x1 convs on 40 x 40 maps went to two threads in 8 tiles of
// 224 columns (896 / 704); in 32-column panels 4 of 416 (832 / 768). One
// thread keeps the cache-sized block; no block passes the plane.
TEST(Conv, GemmTilesEvenOutFewTasks) {
  const bool wide = f32_gemm_panel_columns() == 48;
  set_num_threads(2);
  EXPECT_EQ(conv_column_block(192, 192, 1600, 1), wide ? 240 : 416);     // 7 tiles of 240: 720 / 880, evened out by stealing
  EXPECT_EQ(conv_column_block(192, 192, 100000, 1), wide ? 384 : 352);  // many tiles: the cache block
  EXPECT_EQ(conv_column_block(192, 192, 40, 3), wide ? 40 : 32);        // 3 planes of 40: whole planes, or 32 + 8 (64 would not even them out)
  set_num_threads(1);
  EXPECT_EQ(conv_column_block(192, 192, 1600, 1), wide ? 384 : 352);
  EXPECT_EQ(conv_column_block(192, 192, 40, 1), 40);
  for (int64_t plane : {100, 1600, 6400}) {
    const int64_t block = conv_column_block(192, 192, plane, 1);
    EXPECT_TRUE(block == plane || block % f32_gemm_panel_columns() == 0) << "a whole plane or whole panels: " << block << " of " << plane;
  }
}
