#pragma once
#include "pareto/error.h"
