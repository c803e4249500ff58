/* Rebuilds a package with a new CONF section: the header and section
 * table are rewritten, every other section is copied unchanged (section
 * contents never refer to file offsets, see docs/FORMAT.md). */
#include "package_edit.h"

#include <stdlib.h>
#include <string.h>

#include "../format.h"

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
  wr32(p, (uint32_t)v);
  wr32(p + 4, (uint32_t)(v >> 32));
}
static void wrf32(uint8_t *p, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  wr32(p, u);
}
static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

/* The CONF body for `count` configurations over `positions` stages. */
static uint8_t *encode_configs(const named_config *c, size_t count,
                               size_t positions, size_t *size) {
  size_t record = 64 + 8 * positions;
  *size = 16 + record * count;
  uint8_t *b = calloc(1, *size);
  if (!b) return NULL;
  wr32(b, (uint32_t)count);
  wr32(b + 4, (uint32_t)positions);
  for (size_t i = 0; i < count; i++) {
    uint8_t *r = b + 16 + record * i;
    const dyce_config *cfg = &c[i].config;
    memcpy(r, c[i].name, strnlen(c[i].name, 31));
    wr32(r + 32, cfg->saver == DYCE_NO_GRAPH ? DYCE__NONE : (uint32_t)cfg->saver);
    wrf32(r + 36, cfg->saver_threshold);
    wr32(r + 40, (uint32_t)cfg->confidence);
    wrf32(r + 44, (float)c[i].accuracy);
    uint64_t bits;
    memcpy(&bits, &c[i].mean_macs, 8);
    wr64(r + 48, bits);
    wr32(r + 56, (uint32_t)cfg->level);
    for (size_t p = 0; p < positions; p++) {
      wr32(r + 64 + 8 * p, cfg->exit[p] == DYCE_NO_GRAPH ? DYCE__NONE : (uint32_t)cfg->exit[p]);
      wrf32(r + 68 + 8 * p, cfg->threshold[p]);
    }
  }
  return b;
}

uint8_t *package_with_configs(const uint8_t *in, size_t size,
                              const dyce_model *m, const named_config *configs,
                              size_t count, size_t *out_size) {
  dyce_cascade_info ci;
  if (dyce_model_cascade(m, &ci, NULL) != DYCE_OK) return NULL;
  size_t conf_size;
  uint8_t *conf = encode_configs(configs, count, ci.stage_count, &conf_size);
  if (!conf) return NULL;
  uint32_t old_count = rd32(in + DYCE__H_SECTION_COUNT), kept = 0;
  for (uint32_t i = 0; i < old_count; i++)
    kept += memcmp(in + 64 + 32 * i, DYCE__TAG_CONFIGS, 4) != 0;
  size_t at = align16(64 + 32 * (size_t)(kept + 1)), total = at;
  for (uint32_t i = 0; i < old_count; i++)
    if (memcmp(in + 64 + 32 * i, DYCE__TAG_CONFIGS, 4) != 0)
      total = align16(total + rd64(in + 64 + 32 * i + 16));
  total += conf_size;
  uint8_t *out = calloc(1, total);
  if (!out) {
    free(conf);
    return NULL;
  }
  memcpy(out, in, 64);
  wr32(out + DYCE__H_SECTION_COUNT, kept + 1);
  wr64(out + DYCE__H_FILE_BYTES, total);
  size_t entry = 64;
  for (uint32_t i = 0; i <= old_count; i++) {
    const uint8_t *e = in + 64 + 32 * i;
    int is_new = i == old_count;
    if (!is_new && memcmp(e, DYCE__TAG_CONFIGS, 4) == 0) continue;
    uint64_t bytes = is_new ? conf_size : rd64(e + 16);
    memcpy(out + entry, is_new ? (const uint8_t *)DYCE__TAG_CONFIGS : e, 4);
    wr64(out + entry + 8, at);
    wr64(out + entry + 16, bytes);
    memcpy(out + at, is_new ? conf : in + rd64(e + 8), bytes);
    at = align16(at + bytes);
    entry += 32;
  }
  (void)size;
  free(conf);
  *out_size = total;
  return out;
}
