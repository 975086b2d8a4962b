// The thread pools are part of the public API (include/pareto/thread_pool.hpp):
// applications run their own parallel work on them, as the OCR pipeline does.
#pragma once
#include "pareto/thread_pool.hpp"
