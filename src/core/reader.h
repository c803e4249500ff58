/* Little-endian field readers that work at any alignment. */
#ifndef DYCE_CORE_READER_H
#define DYCE_CORE_READER_H

#include <stdint.h>
#include <string.h>

static inline uint32_t dyce__rd_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline uint64_t dyce__rd_u64(const uint8_t *p) {
  return (uint64_t)dyce__rd_u32(p) | (uint64_t)dyce__rd_u32(p + 4) << 32;
}

static inline int32_t dyce__rd_i32(const uint8_t *p) {
  uint32_t u = dyce__rd_u32(p);
  int32_t v;
  memcpy(&v, &u, sizeof v);
  return v;
}

static inline float dyce__rd_f32(const uint8_t *p) {
  uint32_t u = dyce__rd_u32(p);
  float v;
  memcpy(&v, &u, sizeof v);
  return v;
}

/* An IEEE binary16 value at p (fp16 weights). Infinities and NaNs, which
 * the loader refuses before decoding, come out as huge finite values. */
static inline float dyce__rd_f16(const uint8_t *p) {
  uint32_t h = (uint32_t)p[0] | (uint32_t)p[1] << 8;
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
  if (exp == 0) { /* zero or subnormal: man * 2^-24, exact in binary32 */
    float f = (float)man * 0x1p-24f;
    return sign ? -f : f;
  }
  uint32_t bits = sign | (exp + 112u) << 23 | man << 13;
  float v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

/* 1 when `n` bytes at `p` are all zero (reserved fields). */
static inline int dyce__all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

#endif /* DYCE_CORE_READER_H */
