/* Deflate (RFC 1951) inside gzip (RFC 1952: the IDX data sets) and zlib
 * (RFC 1950: PNG's IDAT), self-contained so the WASI build, which has no
 * zlib, reads the same files as the native one. */
#ifndef DYCE_CODEC_INFLATE_H
#define DYCE_CODEC_INFLATE_H

#include <stddef.h>
#include <stdint.h>

/* Decompresses one gzip member. On success returns 0 and a malloc'ed
 * buffer in *out; on failure returns non-zero with a reason in `why`.
 * Output larger than `max_out` bytes is refused. */
int dyce__gunzip(const uint8_t *in, size_t in_size, size_t max_out,
                uint8_t **out, size_t *out_size, char *why, size_t why_size);

/* Decompresses one zlib stream into `out`, which must come out exactly
 * `out_size` bytes long (more or less is an error); the Adler-32 check is
 * verified; bytes after the stream are ignored. Returns 0, or non-zero
 * with a reason in `why`. */
int dyce__zlib_inflate(const uint8_t *in, size_t in_size, uint8_t *out,
                      size_t out_size, char *why, size_t why_size);

/* CRC-32 (ISO 3309, as gzip and PNG use it), continuing from `crc`
 * (0 to start). */
uint32_t dyce__crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif
