#include <zlib.h>

/* deflateInit2/inflateInit2 are macros over the *_ functions with version and size;
   Swift cannot call macros, so these wrappers do. */
static inline int rp_deflate_init_gzip(z_stream *s, int level) {
    return deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
static inline int rp_inflate_init_auto(z_stream *s) {
    return inflateInit2(s, 15 + 32);
}
