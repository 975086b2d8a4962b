// How the float GEMM conv cuts a map's columns into tiles for the threads
// (kernels::conv_column_block).
#include <gtest/gtest.h>

#include "core/thread_pool.h"
#include "kernels/conv.h"

using namespace pareto;
using namespace pareto::kernels;

// The float GEMM conv's tiles take the int8 conv's re-cut (balanced_block,
// in whole panels of the kernel that runs them: 32 columns, or the AVX-512
// GEMM's 48): PP-OCR det's 192 -> 192 1x1 convs on 40 x 40 maps went to
// two threads in 8 tiles of 224 columns (896 / 704); in 32-column panels 4
// of 416 (832 / 768). One thread keeps the cache-sized block; no block
// passes the plane.
TEST(Conv, GemmTilesEvenOutFewTasks) {
  set_num_threads(2);
  EXPECT_EQ(conv_column_block(192, 192, 1600, 1, 32), 416);
  EXPECT_EQ(conv_column_block(192, 192, 100000, 1, 32), 352);  // many tiles: the cache block
  EXPECT_EQ(conv_column_block(192, 192, 40, 3, 32), 32);       // 3 planes of 32 + 8: a block of 64 would not even them out
  EXPECT_EQ(conv_column_block(192, 192, 1600, 1, 48), 240);    // 7 tiles of 240 (the last 160): 720 / 880 before stealing
  EXPECT_EQ(conv_column_block(192, 192, 40, 3, 48), 40);       // whole planes
  set_num_threads(1);
  EXPECT_EQ(conv_column_block(192, 192, 1600, 1, 32), 352);
  EXPECT_EQ(conv_column_block(192, 192, 1600, 1, 48), 384);
  EXPECT_EQ(conv_column_block(192, 192, 40, 1, 48), 40);
  for (int64_t panel : {32, 48})
    for (int64_t plane : {100, 1600, 6400}) {
      const int64_t block = conv_column_block(192, 192, plane, 1, panel);
      EXPECT_TRUE(block == plane || block % panel == 0) << "a whole plane or whole panels: " << block << " of " << plane;
    }
}
