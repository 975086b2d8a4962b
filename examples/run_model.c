/* Runs a model with one float32 input through the C API and prints the first
 * output's shape and first eight values. The input repeats -3, -2, ..., 3 so
 * that the output tells apart what the model does (through Relu: 0 0 0 0 1 2
 * 3 0; an identity or an all-zero output would print something else).
 * usage: run_model MODEL.onnx D0,D1,... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pareto/pareto.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s MODEL.onnx D0,D1,...\n", argv[0]);
    return 2;
  }
  int64_t dims[8];
  size_t rank = 0, n = 1;
  for (char* tok = strtok(argv[2], ","); tok && rank < 8; tok = strtok(NULL, ",")) {
    dims[rank] = atoll(tok);
    n *= (size_t)dims[rank++];
  }
  pareto_session* s = NULL;
  if (pareto_session_open(argv[1], 1, &s) != PARETO_OK) {
    fprintf(stderr, "error: %s\n", pareto_last_error());
    return 1;
  }
  float* x = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; ++i) x[i] = (float)((int)(i % 7) - 3);
  const float* y;
  const int64_t* ydims;
  size_t yrank;
  if (pareto_session_set_input_f32(s, pareto_session_input_name(s, 0), x, dims, rank) != PARETO_OK ||
      pareto_session_run(s) != PARETO_OK || pareto_session_output_f32(s, 0, &y, &ydims, &yrank) != PARETO_OK) {
    fprintf(stderr, "error: %s\n", pareto_last_error());
    free(x);
    pareto_session_free(s);
    return 1;
  }
  printf("%s: [", pareto_session_output_name(s, 0));
  size_t m = 1;
  for (size_t i = 0; i < yrank; ++i) {
    printf(i ? ",%lld" : "%lld", (long long)ydims[i]);
    m *= (size_t)ydims[i];
  }
  printf("] first values:");
  for (size_t i = 0; i < m && i < 8; ++i) printf(" %g", y[i]);
  printf("\n");
  free(x);
  pareto_session_free(s);
  return 0;
}
