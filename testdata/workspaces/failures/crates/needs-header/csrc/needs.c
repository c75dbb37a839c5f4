#include "present.h"

int needs_header_value(void) {
    return PRESENT_VALUE;
}
