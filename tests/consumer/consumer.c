/* Uses the installed C API (pareto/pareto.h) from C: the same model and
 * input as consumer.cpp, the same output line. */
#include <stdio.h>

#include "pareto/pareto.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: consumer_c MODEL.onnx\n");
    return 2;
  }
  pareto_session* s = NULL;
  if (pareto_session_open(argv[1], 1, &s) != PARETO_OK) {
    fprintf(stderr, "%s\n", pareto_last_error());
    return 1;
  }
  float x[60];
  const int64_t dims[3] = {3, 4, 5};
  for (int i = 0; i < 60; ++i) x[i] = (float)(i % 7) - 3.f;
  const float* y = NULL;
  const int64_t* ydims = NULL;
  size_t rank = 0;
  if (pareto_session_set_input_f32(s, pareto_session_input_name(s, 0), x, dims, 3) != PARETO_OK || pareto_session_run(s) != PARETO_OK ||
      pareto_session_output_f32(s, 0, &y, &ydims, &rank) != PARETO_OK) {
    fprintf(stderr, "%s\n", pareto_last_error());
    pareto_session_free(s);
    return 1;
  }
  printf("y:");
  for (int i = 0; i < 8; ++i) printf(" %g", (double)y[i]);
  printf("\n");
  pareto_session_free(s);
  return 0;
}
