#pragma once
#include "pareto/tensor.h"
