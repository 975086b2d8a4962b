// The AMX-BF16 kernel's source over emulated tiles (PARETO_AMX_EMULATE, set
// by tests/CMakeLists.txt): namespace pareto::kernels::amx_emulated.
#include "kernels/x86/half_gemm_amx.cpp"
