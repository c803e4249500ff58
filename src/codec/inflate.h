/* gzip decompression (RFC 1952 around RFC 1951 deflate), self-contained so
 * the WASI and Emscripten builds, which have no zlib, read the same files
 * as the native one. */
#ifndef DYCE_CLI_GUNZIP_H
#define DYCE_CLI_GUNZIP_H

#include <stddef.h>
#include <stdint.h>

/* Decompresses one gzip member. On success returns 0 and a malloc'ed
 * buffer in *out; on failure returns non-zero with a reason in `why`.
 * Output larger than `max_out` bytes is refused. */
int dyce_gunzip(const uint8_t *in, size_t in_size, size_t max_out,
                uint8_t **out, size_t *out_size, char *why, size_t why_size);

#endif
