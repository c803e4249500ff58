/* State shared by the parts of dyce_model_load: load.c (header,
 * sections, strings, input spec, labels), load_graphs.c (graphs,
 * tensors, nodes) and pack_weights.c (weights). */
#ifndef DYCE_MODEL_LOADER_H
#define DYCE_MODEL_LOADER_H

#include "../core/internal.h"
#include "model.h"

typedef struct dyce__section {
  const uint8_t *p;
  uint64_t bytes;
  int present;
} dyce__section;

typedef struct dyce__loader {
  const uint8_t *file;
  size_t size;
  dyce__section strs, inpt, labl, grph, tens, node, wght, conf, levl, qten;
  uint32_t version;     /* 1, or 2 with int8 tensors (QTEN) */
  const float *weights; /* WGHT as floats (aligned, possibly a copy) */
  int in_place;         /* weights may be packed where they are (owned file) */
  size_t weight_floats;
  dyce_model *model;
  dyce_error *err;
} dyce__loader;

/* A NUL-terminated string at `offset` in STRS with 1..255 bytes (0..255
 * when `may_be_empty`), pointing into the model's copy; NULL after
 * reporting an error naming `what`. */
const char *dyce__string_at(dyce__loader *ld, uint32_t offset,
                            int may_be_empty, const char *what);

/* Packed weights, all tensors of a graph: at most this many floats. */
#define DYCE__MAX_ELEMS (1u << 28)

dyce_status dyce__load_graphs(dyce__loader *ld);
/* Packs every node's weights after the graphs are read (pack_weights.c). */
dyce_status dyce__pack_weights(dyce__loader *ld);
/* Frees what kernels keep outside the packed weights (XNNPACK operators,
 * see kernels.h); called by dyce_model_free, also after a failed load. */
void dyce__release_weights(dyce_model *m);


#endif /* DYCE_MODEL_LOADER_H */
