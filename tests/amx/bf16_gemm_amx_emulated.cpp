// The AMX-BF16 conv GEMM's source over emulated tiles (PARETO_AMX_EMULATE, set
// by tests/CMakeLists.txt): namespace pareto::kernels::amx_emulated.
#include "kernels/x86/bf16_gemm_amx.cpp"
