#include <stddef.h>
#include <zlib.h>

/* The zlib version the bundled headers declare. */
const char *big_zlib_header_version(void) {
    return ZLIB_VERSION;
}

/* Adler-32 computed by the bundled (static) zlib. */
unsigned long big_adler32(const unsigned char *buf, size_t len) {
    uLong a = adler32(0L, Z_NULL, 0);
    return adler32(a, buf, (uInt)len);
}
