// The AMX-INT8 conv GEMM's source over emulated tiles (PARETO_AMX_EMULATE, set
// by tests/CMakeLists.txt): namespace pareto::kernels::amx_emulated.
#include "kernels/x86/int8_gemm_amx.cpp"
