/*
 * A small inflate: canonical Huffman decoding one bit at a time, in the
 * manner of zlib's puff.c. Every read is bounds-checked; every length,
 * distance and code table is validated. Speed (~50 MB/s natively) is
 * ample for data sets. The first error is kept in `error` and makes every
 * later step a no-op (wasi-libc has no setjmp to unwind with).
 */
#include "inflate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BITS 15

#ifndef DYCE_FUZZ_SKIP_CHECKSUMS /* see png.c */
#define DYCE_FUZZ_SKIP_CHECKSUMS 0
#endif

typedef struct inflater {
  const uint8_t *in;
  size_t in_size, in_pos;
  uint32_t bit_buf;
  int bit_count;
  uint8_t *out;
  size_t out_size, out_pos;
  const char *too_much; /* the error when output exceeds out_size */
  const char *error;    /* first error, or NULL */
} inflater;

typedef struct huffman {
  uint16_t count[MAX_BITS + 1]; /* codes of each length */
  uint16_t symbol[320];         /* symbols ordered by code */
} huffman;

/* Records the first error; returns 0 so callers can `return fail(...)`. */
static int fail(inflater *s, const char *why) {
  if (!s->error) s->error = why;
  return 0;
}

static uint32_t bits(inflater *s, int need) {
  uint32_t v = s->bit_buf;
  while (s->bit_count < need) {
    if (s->in_pos >= s->in_size) return (uint32_t)fail(s, "compressed data ends early");
    v |= (uint32_t)s->in[s->in_pos++] << s->bit_count;
    s->bit_count += 8;
  }
  s->bit_buf = v >> need;
  s->bit_count -= need;
  return v & ((1u << need) - 1);
}

static void emit(inflater *s, uint8_t byte) {
  if (s->out_pos >= s->out_size) {
    fail(s, s->too_much);
    return;
  }
  s->out[s->out_pos++] = byte;
}

static void stored_block(inflater *s) {
  s->bit_buf = 0; /* stored blocks start on a byte boundary */
  s->bit_count = 0;
  if (s->in_pos + 4 > s->in_size) {
    fail(s, "compressed data ends early");
    return;
  }
  unsigned len = s->in[s->in_pos] | s->in[s->in_pos + 1] << 8;
  unsigned nlen = s->in[s->in_pos + 2] | s->in[s->in_pos + 3] << 8;
  s->in_pos += 4;
  if (len != (~nlen & 0xffffu)) {
    fail(s, "stored block length check failed");
    return;
  }
  if (s->in_pos + len > s->in_size) {
    fail(s, "compressed data ends early");
    return;
  }
  while (len-- && !s->error) emit(s, s->in[s->in_pos++]);
}

/* Builds a table from code lengths; returns 0 if complete or a valid
 * incomplete single code, non-zero if over-subscribed. */
static int build(huffman *h, const uint8_t *lengths, int n) {
  uint16_t offs[MAX_BITS + 1];
  memset(h->count, 0, sizeof h->count);
  for (int i = 0; i < n; i++) h->count[lengths[i]]++;
  if (h->count[0] == n) return 0;
  int left = 1;
  for (int len = 1; len <= MAX_BITS; len++) {
    left <<= 1;
    left -= h->count[len];
    if (left < 0) return 1;
  }
  offs[1] = 0;
  for (int len = 1; len < MAX_BITS; len++) offs[len + 1] = offs[len] + h->count[len];
  for (int i = 0; i < n; i++)
    if (lengths[i]) h->symbol[offs[lengths[i]]++] = (uint16_t)i;
  return 0;
}

static int decode(inflater *s, const huffman *h) {
  int code = 0, first = 0, index = 0;
  for (int len = 1; len <= MAX_BITS && !s->error; len++) {
    code |= (int)bits(s, 1);
    int count = h->count[len];
    if (code - count < first) return h->symbol[index + (code - first)];
    index += count;
    first += count;
    first <<= 1;
    code <<= 1;
  }
  fail(s, "invalid Huffman code");
  return 256; /* end of block: stops the caller, which sees s->error */
}

static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
                                       193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
                                       4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

static void codes(inflater *s, const huffman *lit, const huffman *dist) {
  while (!s->error) {
    int sym = decode(s, lit);
    if (s->error) return;
    if (sym < 256) {
      emit(s, (uint8_t)sym);
    } else if (sym == 256) {
      return;
    } else {
      sym -= 257;
      if (sym >= 29) {
        fail(s, "invalid length symbol");
        return;
      }
      size_t len = len_base[sym] + bits(s, len_extra[sym]);
      int d = decode(s, dist);
      if (d >= 30) {
        fail(s, "invalid distance symbol");
        return;
      }
      size_t back = dist_base[d] + bits(s, dist_extra[d]);
      if (s->error) return;
      if (back > s->out_pos) {
        fail(s, "distance reaches before the start");
        return;
      }
      while (len-- && !s->error) emit(s, s->out[s->out_pos - back]);
    }
  }
}

static void fixed_block(inflater *s) {
  static huffman lit, dist;
  static int built;
  if (!built) { /* the fixed tables never change; build them once */
    uint8_t lengths[288];
    int i = 0;
    for (; i < 144; i++) lengths[i] = 8;
    for (; i < 256; i++) lengths[i] = 9;
    for (; i < 280; i++) lengths[i] = 7;
    for (; i < 288; i++) lengths[i] = 8;
    build(&lit, lengths, 288);
    for (i = 0; i < 30; i++) lengths[i] = 5;
    build(&dist, lengths, 30);
    built = 1;
  }
  codes(s, &lit, &dist);
}

static void dynamic_block(inflater *s) {
  static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5,
                                    11, 4, 12, 3, 13, 2, 14, 1, 15};
  uint8_t lengths[320];
  huffman lencode, lit, dist;
  int nlen = (int)bits(s, 5) + 257, ndist = (int)bits(s, 5) + 1;
  int ncode = (int)bits(s, 4) + 4;
  if (nlen > 286 || ndist > 30) {
    fail(s, "bad code counts");
    return;
  }
  memset(lengths, 0, 19);
  for (int i = 0; i < ncode; i++) lengths[order[i]] = (uint8_t)bits(s, 3);
  if (build(&lencode, lengths, 19)) {
    fail(s, "bad code-length code");
    return;
  }
  for (int i = 0; i < nlen + ndist;) {
    int sym = decode(s, &lencode), rep;
    uint8_t value = 0;
    if (s->error) return;
    if (sym < 16) {
      lengths[i++] = (uint8_t)sym;
      continue;
    }
    if (sym == 16) {
      if (i == 0) {
        fail(s, "repeat with no previous length");
        return;
      }
      value = lengths[i - 1];
      rep = 3 + (int)bits(s, 2);
    } else if (sym == 17) {
      rep = 3 + (int)bits(s, 3);
    } else {
      rep = 11 + (int)bits(s, 7);
    }
    if (s->error) return;
    if (i + rep > nlen + ndist) {
      fail(s, "too many code lengths");
      return;
    }
    while (rep--) lengths[i++] = value;
  }
  if (lengths[256] == 0) {
    fail(s, "no end-of-block code");
    return;
  }
  if (build(&lit, lengths, nlen) || build(&dist, lengths + nlen, ndist)) {
    fail(s, "over-subscribed Huffman code");
    return;
  }
  codes(s, &lit, &dist);
}

/* Skips the gzip header; returns the offset of the deflate data, or 0
 * after an error. */
static size_t skip_header(inflater *s) {
  const uint8_t *p = s->in;
  if (s->in_size < 18 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8)
    return (size_t)fail(s, "not a gzip file");
  uint8_t flags = p[3];
  size_t at = 10;
  if (flags & 4) { /* FEXTRA */
    at += 2 + (p[at] | (size_t)p[at + 1] << 8);
  }
  for (int f = 8; f <= 16; f <<= 1) /* FNAME, FCOMMENT: NUL-terminated */
    if (flags & f) {
      while (at < s->in_size && p[at]) at++;
      at++;
    }
  if (flags & 2) at += 2; /* FHCRC */
  if (at + 8 >= s->in_size) return (size_t)fail(s, "truncated gzip header");
  return at;
}

uint32_t dyce__crc32(uint32_t crc, const uint8_t *p, size_t n) {
  static uint32_t table[256];
  if (!table[1])
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
  uint32_t c = crc ^ 0xffffffffu;
  for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

/* Inflates blocks until the last one. */
static void blocks(inflater *s) {
  for (int last = 0; !last && !s->error;) {
    last = (int)bits(s, 1);
    switch (bits(s, 2)) {
      case 0: stored_block(s); break;
      case 1: fixed_block(s); break;
      case 2: dynamic_block(s); break;
      default: fail(s, "invalid block type");
    }
  }
}

int dyce__gunzip(const uint8_t *in, size_t in_size, size_t max_out,
                uint8_t **out, size_t *out_size, char *why, size_t why_size) {
  inflater s;
  memset(&s, 0, sizeof s);
  s.in = in;
  s.in_size = in_size;
  s.too_much = "more data than the gzip trailer says";
  *out = NULL;
  s.in_pos = skip_header(&s);
  uint32_t crc = 0;
  size_t isize = 0;
  if (!s.error) {
    /* ISIZE (size mod 2^32) sizes the output exactly. */
    const uint8_t *t = in + in_size - 8;
    crc = t[0] | t[1] << 8 | t[2] << 16 | (uint32_t)t[3] << 24;
    isize = t[4] | t[5] << 8 | t[6] << 16 | (size_t)t[7] << 24;
    s.in_size -= 8; /* the trailer is not deflate data */
    if (isize > max_out) fail(&s, "uncompressed size exceeds the limit");
  }
  if (!s.error && !(s.out = malloc(isize ? isize : 1))) fail(&s, "out of memory");
  s.out_size = isize;
  blocks(&s);
  if (!s.error && s.out_pos != isize) fail(&s, "less data than the gzip trailer says");
  if (!s.error && dyce__crc32(0, s.out, s.out_pos) != crc) fail(&s, "CRC mismatch");
  if (s.error) {
    free(s.out);
    snprintf(why, why_size, "%s", s.error);
    return 1;
  }
  *out = s.out;
  *out_size = s.out_pos;
  return 0;
}

int dyce__zlib_inflate(const uint8_t *in, size_t in_size, uint8_t *out,
                      size_t out_size, char *why, size_t why_size) {
  inflater s;
  memset(&s, 0, sizeof s);
  s.in = in;
  s.in_size = in_size;
  s.out = out;
  s.out_size = out_size;
  s.too_much = "the compressed data holds more bytes than the image needs";
  if (in_size < 2 || (in[0] & 0x0f) != 8 || (in[0] >> 4) > 7 ||
      ((unsigned)in[0] << 8 | in[1]) % 31 != 0)
    fail(&s, "not a zlib stream (bad header)");
  else if (in[1] & 0x20)
    fail(&s, "zlib stream needs a preset dictionary");
  s.in_pos = 2;
  if (!s.error) blocks(&s);
  if (!s.error && s.out_pos != out_size)
    fail(&s, "the compressed data holds fewer bytes than the image needs");
  if (!s.error) {
    uint32_t a = 1, b = 0; /* Adler-32, after the last block's byte */
    for (size_t i = 0; i < out_size; i++) {
      a = (a + out[i]) % 65521u;
      b = (b + a) % 65521u;
    }
    size_t at = s.in_pos;
    if (in_size - at < 4)
      fail(&s, "zlib stream ends before its Adler-32 check");
    else if (!DYCE_FUZZ_SKIP_CHECKSUMS && ((uint32_t)in[at] << 24 | (uint32_t)in[at + 1] << 16 |
              (uint32_t)in[at + 2] << 8 | in[at + 3]) != (b << 16 | a))
      fail(&s, "zlib Adler-32 mismatch");
  }
  if (s.error) {
    snprintf(why, why_size, "%s", s.error);
    return 1;
  }
  return 0;
}
