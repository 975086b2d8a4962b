/* TensorFlow Lite's own interpreter (its C API, fetched by
 * scripts/fetch-models.sh) on one model, for byte-for-byte comparison with
 * pareto's TFLite frontend. Test tooling only; pareto never links it.
 *   tflite_reference MODEL --random SEED OUT.npy    a random input of the model's shape (uint8/int8: any byte; float: [-1, 1))
 *   tflite_reference MODEL INPUT.npy PARETO_OUT.npy [--exact]  runs TFLite on INPUT, compares output 0 with pareto's
 *                                                   (integers exactly; float within 1e-4 + 1e-3 |value|, or bit for
 *                                                   bit with --exact: a dequantized integer output)
 *   tflite_reference MODEL --time RUNS THREADS       median milliseconds of RUNS invocations (speed side by side)
 * Prints the input name (input=NAME) and, comparing, how many values differ
 * and by how much; exits 1 when any does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tensorflow/lite/c/c_api.h"

static unsigned char* read_file(const char* path, long* size) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char* b = malloc((size_t)*size + 1);
  if (!b || fread(b, 1, (size_t)*size, f) != (size_t)*size) { fclose(f); free(b); return NULL; }
  fclose(f);
  return b;
}

/* The data of a version-1 .npy file (the header length is 2 bytes at offset 8). */
static const unsigned char* npy_data(const unsigned char* b, long size, long* n) {
  if (size < 10 || memcmp(b, "\x93NUMPY\x01", 7) != 0) return NULL;
  long off = 10 + (b[8] | (b[9] << 8));
  if (off > size) return NULL;
  *n = size - off;
  return b + off;
}

static int write_random(const TfLiteTensor* in, unsigned seed, const char* path) {
  char header[256];
  const int is_float = TfLiteTensorType(in) == kTfLiteFloat32;
  const char* descr = is_float ? "<f4" : TfLiteTensorType(in) == kTfLiteInt8 ? "|i1" : "|u1";
  int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int d = 0; d < TfLiteTensorNumDims(in); ++d) len += snprintf(header + len, sizeof header - (size_t)len, "%d, ", TfLiteTensorDim(in, d));
  len += snprintf(header + len, sizeof header - (size_t)len, "), }");
  while ((10 + len + 1) % 64) header[len++] = ' ';
  header[len++] = '\n';
  FILE* f = fopen(path, "wb");
  if (!f) return 1;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 255), (unsigned char)(len >> 8)};
  fwrite(pre, 1, 10, f);
  fwrite(header, 1, (size_t)len, f);
  srand(seed);
  if (is_float) {
    for (size_t i = 0; i < TfLiteTensorByteSize(in) / 4; ++i) {
      const float v = (float)rand() / ((float)RAND_MAX + 1.0f) * 2.0f - 1.0f;
      fwrite(&v, 4, 1, f);
    }
  } else {
    for (size_t i = 0; i < TfLiteTensorByteSize(in); ++i) fputc(rand() & 255, f);
  }
  fclose(f);
  return 0;
}

static int compare_double(const void* a, const void* b) {
  const double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

/* Float outputs: within 1e-4 + 1e-3 |TFLite's value| (another summation order, not another computation). */
static int compare_float(const float* want, const float* got, size_t n, int exact) {
  size_t differ = 0, unequal = 0;
  double max_diff = 0;
  for (size_t i = 0; i < n; ++i) {
    float a, b;
    memcpy(&a, want + i, 4), memcpy(&b, got + i, 4);
    const double d = a > b ? (double)a - b : (double)b - a;
    differ += exact ? memcmp(&a, &b, 4) != 0 : !(d <= 1e-4 + 1e-3 * (a < 0 ? -a : a));
    unequal += memcmp(&a, &b, 4) != 0;
    if (!(d <= max_diff)) max_diff = d;
  }
  if (exact) printf("TFLite %s: %zu of %zu float values differ (bit for bit), largest difference %.3g\n", TfLiteVersion(), differ, n, max_diff);
  else printf("TFLite %s: %zu of %zu float values outside tolerance (%zu not identical), largest difference %.3g\n", TfLiteVersion(), differ, n, unequal, max_diff);
  return differ ? 1 : 0;
}

/* Median wall time of `runs` invocations on zeros with `threads` threads (after one untimed). */
static int time_runs(TfLiteModel* model, int runs, int threads) {
  if (runs < 1 || runs > 10000) return 2;
  TfLiteInterpreterOptions* options = TfLiteInterpreterOptionsCreate();
  TfLiteInterpreterOptionsSetNumThreads(options, threads);
  TfLiteInterpreter* it = TfLiteInterpreterCreate(model, options);
  if (!it || TfLiteInterpreterAllocateTensors(it) != kTfLiteOk) return 2;
  double* ms = malloc(sizeof(double) * (size_t)runs);
  TfLiteInterpreterInvoke(it);
  for (int r = 0; r < runs; ++r) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    TfLiteInterpreterInvoke(it);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  }
  qsort(ms, (size_t)runs, sizeof(double), compare_double);
  printf("median %.3f ms over %d runs, %d threads\n", ms[runs / 2], runs, threads);
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) { fprintf(stderr, "usage: tflite_reference MODEL INPUT.npy PARETO_OUT.npy | MODEL --random SEED OUT.npy\n"); return 2; }
  TfLiteModel* model = TfLiteModelCreateFromFile(argv[1]);
  if (!model) { fprintf(stderr, "%s: TFLite cannot read it\n", argv[1]); return 2; }
  TfLiteInterpreterOptions* options = TfLiteInterpreterOptionsCreate();
  TfLiteInterpreterOptionsSetNumThreads(options, 1);
  TfLiteInterpreter* it = TfLiteInterpreterCreate(model, options);
  if (!it || TfLiteInterpreterAllocateTensors(it) != kTfLiteOk) { fprintf(stderr, "%s: TFLite cannot allocate\n", argv[1]); return 2; }
  TfLiteTensor* in = TfLiteInterpreterGetInputTensor(it, 0);
  printf("input=%s\n", TfLiteTensorName(in));
  if (argc == 5 && strcmp(argv[2], "--time") == 0) return time_runs(model, atoi(argv[3]), atoi(argv[4]));
  if (argc == 5 && strcmp(argv[2], "--random") == 0) return write_random(in, (unsigned)atoi(argv[3]), argv[4]);
  const int exact = argc == 5 && strcmp(argv[4], "--exact") == 0;
  if (argc != 4 && !exact) { fprintf(stderr, "usage: see the comment at the top\n"); return 2; }
  long size = 0, n = 0, pn = 0, psize = 0;
  unsigned char* file = read_file(argv[2], &size);
  const unsigned char* data = file ? npy_data(file, size, &n) : NULL;
  if (!data || (size_t)n != TfLiteTensorByteSize(in)) { fprintf(stderr, "%s: not a .npy of the input's %zu bytes\n", argv[2], TfLiteTensorByteSize(in)); return 2; }
  TfLiteTensorCopyFromBuffer(in, data, (size_t)n);
  if (TfLiteInterpreterInvoke(it) != kTfLiteOk) { fprintf(stderr, "TFLite failed to run\n"); return 2; }
  const TfLiteTensor* out = TfLiteInterpreterGetOutputTensor(it, 0);
  const size_t bytes = TfLiteTensorByteSize(out);
  unsigned char* want = malloc(bytes);
  TfLiteTensorCopyToBuffer(out, want, bytes);
  unsigned char* pfile = read_file(argv[3], &psize);
  const unsigned char* got = pfile ? npy_data(pfile, psize, &pn) : NULL;
  if (!got || (size_t)pn != bytes) { fprintf(stderr, "%s: not a .npy of the output's %zu bytes\n", argv[3], bytes); return 2; }
  const TfLiteType type = TfLiteTensorType(out);
  if (type == kTfLiteFloat32) return compare_float((const float*)want, (const float*)got, bytes / 4, exact);
  const size_t width = type == kTfLiteInt64 ? 8 : type == kTfLiteInt32 ? 4 : 1;
  if (type != kTfLiteUInt8 && type != kTfLiteInt8 && type != kTfLiteInt32 && type != kTfLiteInt64) {
    fprintf(stderr, "output type %d: only uint8, int8, int32 and int64 are compared\n", type);
    return 2;
  }
  size_t differ = 0;
  long long max_diff = 0;
  for (size_t i = 0; i < bytes / width; ++i) {
    long long a = 0, b = 0;
    if (type == kTfLiteInt8) a = (signed char)want[i], b = (signed char)got[i];
    else if (type == kTfLiteUInt8) a = want[i], b = got[i];
    else if (type == kTfLiteInt32) { int x, y; memcpy(&x, want + 4 * i, 4); memcpy(&y, got + 4 * i, 4); a = x, b = y; }
    else { long long x, y; memcpy(&x, want + 8 * i, 8); memcpy(&y, got + 8 * i, 8); a = x, b = y; }
    const long long d = llabs(a - b);
    differ += d != 0;
    if (d > max_diff) max_diff = d;
  }
  printf("TFLite %s: %zu of %zu values differ, largest difference %lld\n", TfLiteVersion(), differ, bytes / width, max_diff);
  return differ ? 1 : 0;
}
