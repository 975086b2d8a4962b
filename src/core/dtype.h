#pragma once
#include "pareto/dtype.h"
