#include "protocol/parser.h"
