#include "add.h"

int cnative_add(int a, int b) {
    return a + b;
}

int cnative_version(void) {
    return CNATIVE_VERSION;
}
