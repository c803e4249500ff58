/*
 * PNG (ISO/IEC 15948) to 8-bit RGB, on the built-in zlib inflate. Chunks
 * are walked with every length checked against the file and every CRC
 * verified; IHDR fields are checked against the combinations the standard
 * allows; the IDAT stream must inflate to exactly the bytes the image
 * needs. The result matches what PIL's convert("RGBA") gives, laid over
 * black where the file has an alpha channel (gray + alpha, RGBA: each
 * colour byte (v * a + 127) / 255, as models/dyce_build/images.py and a
 * browser's canvas): sub-byte gray is scaled to 0..255, 16-bit samples
 * keep their high byte, palette indices past PLTE read as gray (i, i, i).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "inflate.h"

#define MAX_DIM 65535u

/* The fuzz target skips CRC and Adler-32 checks, or mutations would
 * almost never get past them (what libpng's fuzzer does too). */
#ifndef DYCE_FUZZ_SKIP_CHECKSUMS
#define DYCE_FUZZ_SKIP_CHECKSUMS 0
#endif

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes "PNG: <message>" into why; returns 1. */
static int fail(char *why, size_t why_size, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(why, why_size, "PNG: %s", msg);
  return 1;
}

typedef struct png_header {
  uint32_t width, height;
  unsigned depth, type, interlace;
  unsigned channels;  /* samples per pixel */
  uint8_t palette[256][3];
} png_header;

/* The seven Adam7 passes (x0, y0, dx, dy); non-interlaced is one pass. */
static const unsigned adam7[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8},
                                     {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2},
                                     {0, 1, 1, 2}};
static const unsigned single[1][4] = {{0, 0, 1, 1}};

static size_t pass_size(uint32_t n, unsigned start, unsigned step) {
  return n > start ? (n - start + step - 1) / step : 0;
}

/* Bytes of one filtered row of `w` pixels (without the filter byte). */
static size_t row_bytes(const png_header *h, size_t w) {
  return (w * h->channels * h->depth + 7) / 8;
}

static int check_header(const uint8_t *p, size_t len, png_header *h, char *why,
                        size_t why_size) {
  if (len != 13) return fail(why, why_size, "IHDR is not 13 bytes");
  h->width = be32(p);
  h->height = be32(p + 4);
  h->depth = p[8];
  h->type = p[9];
  h->interlace = p[12];
  if (h->width < 1 || h->height < 1 || h->width > MAX_DIM || h->height > MAX_DIM) {
    return fail(why, why_size, "image size %ux%u is outside 1..65535 per side", h->width,
                h->height);
  }
  unsigned d = h->depth;
  switch (h->type) {
    case 0: h->channels = 1; break;
    case 2: h->channels = 3; break;
    case 3: h->channels = 1; break;
    case 4: h->channels = 2; break;
    case 6: h->channels = 4; break;
    default: return fail(why, why_size, "unknown colour type %u", h->type);
  }
  int ok = h->type == 0   ? (d == 1 || d == 2 || d == 4 || d == 8 || d == 16)
           : h->type == 3 ? (d == 1 || d == 2 || d == 4 || d == 8)
                          : (d == 8 || d == 16);
  if (!ok)
    return fail(why, why_size, "bit depth %u is not allowed for colour type %u", d, h->type);
  if (h->type == 0 && d == 16)
    return fail(why, why_size,
                "16-bit gray is not supported (PIL reads it as 32-bit "
                "integers, not as 8-bit gray); save it as 8-bit");
  if (p[10] != 0 || p[11] != 0)
    return fail(why, why_size, "unknown compression or filter method");
  if (h->interlace > 1) return fail(why, why_size, "unknown interlace method %u", h->interlace);
  return 0;
}

static int paeth(int a, int b, int c) {
  int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/* Undoes the filters of `rows` rows of `len` bytes, in place; each row is
 * preceded by its filter byte. `bpp`: bytes per complete pixel (>= 1). */
static int unfilter(uint8_t *data, size_t rows, size_t len, size_t bpp,
                    unsigned *bad_filter) {
  uint8_t *prev = NULL;
  for (size_t y = 0; y < rows; y++) {
    uint8_t *row = data + y * (len + 1) + 1;
    unsigned filter = row[-1];
    if (filter > 4) return *bad_filter = filter, 1;
    for (size_t i = 0; i < len; i++) {
      int a = i >= bpp ? row[i - bpp] : 0, b = prev ? prev[i] : 0;
      int c = prev && i >= bpp ? prev[i - bpp] : 0;
      int add = filter == 1   ? a
                : filter == 2 ? b
                : filter == 3 ? (a + b) / 2
                : filter == 4 ? paeth(a, b, c)
                              : 0;
      row[i] = (uint8_t)(row[i] + add);
    }
    prev = row;
  }
  return 0;
}

/* Sample `k` of pixel `x` of an unfiltered row, as 0..255. */
static unsigned sample(const png_header *h, const uint8_t *row, size_t x, unsigned k) {
  size_t i = x * h->channels + k;
  switch (h->depth) {
    case 16: return row[2 * i]; /* the high byte */
    case 8: return row[i];
    default: {
      unsigned d = h->depth, per = 8 / d;
      unsigned v = (row[i / per] >> (8 - d * (1 + i % per))) & ((1u << d) - 1);
      return h->type == 3 ? v : v * 255u / ((1u << d) - 1); /* gray: scaled */
    }
  }
}

static void put_pixel(const png_header *h, const uint8_t *row, size_t x, uint8_t *rgb) {
  switch (h->type) {
    case 3: {
      const uint8_t *c = h->palette[sample(h, row, x, 0)];
      rgb[0] = c[0], rgb[1] = c[1], rgb[2] = c[2];
      break;
    }
    case 0:
    case 4: rgb[0] = rgb[1] = rgb[2] = (uint8_t)sample(h, row, x, 0); break;
    default:
      for (unsigned k = 0; k < 3; k++) rgb[k] = (uint8_t)sample(h, row, x, k);
  }
  if (h->type == 4 || h->type == 6) { /* over black */
    unsigned a = sample(h, row, x, h->channels - 1u);
    for (unsigned k = 0; k < 3; k++) rgb[k] = (uint8_t)((rgb[k] * a + 127u) / 255u);
  }
}

/* Bytes the IDAT stream must inflate to, or 0 when it would not fit. */
static size_t raw_size(const png_header *h) {
  const unsigned (*passes)[4] = h->interlace ? adam7 : single;
  size_t total = 0;
  for (unsigned p = 0; p < (h->interlace ? 7u : 1u); p++) {
    size_t w = pass_size(h->width, passes[p][0], passes[p][2]);
    size_t rows = pass_size(h->height, passes[p][1], passes[p][3]);
    if (w && rows) total += rows * (1 + row_bytes(h, w)); /* <= 2^16 * 2^19 */
  }
  return total;
}

/* Gathers the IDAT chunks and checks the chunk structure. */
static int read_chunks(const uint8_t *in, size_t size, png_header *h,
                       uint8_t **idat, size_t *idat_size, char *why,
                       size_t why_size) {
  size_t at = 8, total = 0;
  int seen_header = 0, seen_palette = 0, seen_end = 0, idat_state = 0;
  unsigned palette_entries = 0;
  *idat = NULL;
  /* Pass 1: structure, CRCs, header, palette and the IDAT total. */
  while (!seen_end) {
    if (size - at < 12)
      return fail(why, why_size, size == at ? "the file ends without an IEND chunk"
                                            : "file ends inside a chunk");
    uint32_t len = be32(in + at);
    const uint8_t *type = in + at + 4, *data = in + at + 8;
    char name[5] = {0};
    for (int i = 0; i < 4; i++)
      name[i] = (type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z')
                    ? (char)type[i] : '?';
    if (len > 0x7fffffffu || size - at - 12 < len)
      return fail(why, why_size, "chunk %s runs past the end of the file", name);
    if (!DYCE_FUZZ_SKIP_CHECKSUMS && dyce__crc32(0, type, 4 + (size_t)len) != be32(data + len))
      return fail(why, why_size, "chunk %s: CRC mismatch", name);
    if (!seen_header && memcmp(type, "IHDR", 4) != 0)
      return fail(why, why_size, "the first chunk is %s, not IHDR", name);
    if (memcmp(type, "IHDR", 4) == 0) {
      if (seen_header) return fail(why, why_size, "two IHDR chunks");
      if (check_header(data, len, h, why, why_size)) return 1;
      seen_header = 1;
    } else if (memcmp(type, "PLTE", 4) == 0) {
      if (seen_palette || idat_state)
        return fail(why, why_size, "a second PLTE, or PLTE after IDAT");
      if (len % 3 || len < 3 || len > 768 || h->type == 0 || h->type == 4)
        return fail(why, why_size, "PLTE of %u bytes (a multiple of 3, 3..768, and not in a "
                    "gray image)", len);
      palette_entries = len / 3;
      memcpy(h->palette, data, len);
      seen_palette = 1;
    } else if (memcmp(type, "IDAT", 4) == 0) {
      if (idat_state == 2) return fail(why, why_size, "IDAT chunks are not consecutive");
      idat_state = 1;
      total += len;
    } else if (memcmp(type, "IEND", 4) == 0) {
      seen_end = 1;
    } else if (!(type[0] & 0x20)) {
      return fail(why, why_size, "unknown critical chunk %s", name);
    }
    if (idat_state == 1 && memcmp(type, "IDAT", 4) != 0) idat_state = 2;
    at += 12 + (size_t)len;
  }
  if (h->type == 3 && !seen_palette) return fail(why, why_size, "palette image without PLTE");
  if (!idat_state) return fail(why, why_size, "no IDAT chunk");
  for (unsigned i = palette_entries; i < 256; i++) /* as PIL: gray (i, i, i) */
    h->palette[i][0] = h->palette[i][1] = h->palette[i][2] = (uint8_t)i;
  /* Pass 2: concatenate the IDAT data. */
  uint8_t *buf = malloc(total ? total : 1);
  if (!buf) return fail(why, why_size, "out of memory");
  size_t filled = 0;
  for (at = 8; filled < total;) {
    uint32_t len = be32(in + at);
    if (memcmp(in + at + 4, "IDAT", 4) == 0) {
      memcpy(buf + filled, in + at + 8, len);
      filled += len;
    }
    at += 12 + (size_t)len;
  }
  *idat = buf;
  *idat_size = total;
  return 0;
}

int dyce__png_decode(const uint8_t *in, size_t size, size_t max_pixels,
                    dyce__image *out, char *why, size_t why_size) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  memset(out, 0, sizeof *out);
  if (size < 8 || memcmp(in, signature, 8) != 0)
    return fail(why, why_size, "not a PNG file (bad signature)");
  png_header h;
  memset(&h, 0, sizeof h);
  uint8_t *idat = NULL;
  size_t idat_size = 0;
  if (read_chunks(in, size, &h, &idat, &idat_size, why, why_size)) return 1;
  /* 64-bit: 65535 x 65535 does not fit a 32-bit size_t (wasm32). */
  uint64_t pixels64 = (uint64_t)h.width * h.height;
  size_t pixels = (size_t)pixels64;
  if (pixels64 > max_pixels) {
    free(idat);
    return fail(why, why_size, "image of %ux%u is too large (more than %zu pixels)", h.width,
                h.height, max_pixels);
  }
  size_t need = raw_size(&h);
  uint8_t *raw = malloc(need);
  out->rgb = malloc(pixels * 3);
  char inflate_why[128];
  int rc = 0;
  if (!raw || !out->rgb) {
    rc = fail(why, why_size, "out of memory");
  } else if (dyce__zlib_inflate(idat, idat_size, raw, need, inflate_why, sizeof inflate_why)) {
    rc = fail(why, why_size, "image data: %s", inflate_why);
  }
  const unsigned (*passes)[4] = h.interlace ? adam7 : single;
  size_t bpp = (h.channels * h.depth + 7) / 8, at = 0;
  for (unsigned p = 0; !rc && p < (h.interlace ? 7u : 1u); p++) {
    size_t w = pass_size(h.width, passes[p][0], passes[p][2]);
    size_t rows = pass_size(h.height, passes[p][1], passes[p][3]);
    if (!w || !rows) continue;
    size_t len = row_bytes(&h, w);
    unsigned bad;
    if (unfilter(raw + at, rows, len, bpp, &bad)) {
      rc = fail(why, why_size, "unknown row filter %u", bad);
      break;
    }
    for (size_t y = 0; y < rows; y++) {
      const uint8_t *row = raw + at + y * (len + 1) + 1;
      size_t oy = passes[p][1] + y * passes[p][3];
      for (size_t x = 0; x < w; x++) {
        size_t ox = passes[p][0] + x * passes[p][2];
        put_pixel(&h, row, x, out->rgb + 3 * (oy * h.width + ox));
      }
    }
    at += rows * (len + 1);
  }
  free(raw);
  free(idat);
  if (rc) {
    dyce__image_free(out);
    return rc;
  }
  out->width = h.width;
  out->height = h.height;
  out->gray = h.type == 0 || h.type == 4;
  if (!out->gray) {
    size_t i = 0;
    while (i < pixels && out->rgb[3 * i] == out->rgb[3 * i + 1] &&
           out->rgb[3 * i + 1] == out->rgb[3 * i + 2])
      i++;
    out->gray = i == pixels;
  }
  return 0;
}

void dyce__image_free(dyce__image *image) {
  free(image->rgb);
  memset(image, 0, sizeof *image);
}

int dyce__image_decode(const uint8_t *bytes, size_t size, size_t max_pixels,
                      dyce__image *out, char *why, size_t why_size) {
  memset(out, 0, sizeof *out);
  if (size >= 8 && bytes[0] == 0x89 && memcmp(bytes + 1, "PNG", 3) == 0)
    return dyce__png_decode(bytes, size, max_pixels, out, why, why_size);
  if (size >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
    return dyce__jpeg_decode(bytes, size, max_pixels, out, why, why_size);
  snprintf(why, why_size, "not a PNG or JPEG file");
  return 1;
}
