#include "config/options.h"
