// The AMX-INT8 kernel's source over emulated tiles (PARETO_AMX_EMULATE, set
// by tests/CMakeLists.txt): namespace pareto::kernels::amx_emulated.
#include "kernels/x86/packed_gemm_amx.cpp"
