#pragma once
#include "pareto/guarded.hpp"
