#include "backend/redis_connection.h"
