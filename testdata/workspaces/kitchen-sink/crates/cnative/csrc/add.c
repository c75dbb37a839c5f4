#include "add.h"

int cnative_add(int a, int b) {
    return a + b;
}

int cnative_version(void) {
#ifdef CNATIVE_WIDE
    return CNATIVE_VERSION * 10;
#else
    return CNATIVE_VERSION;
#endif
}
