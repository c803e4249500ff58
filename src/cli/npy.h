/* Minimal reader and writer of NumPy .npy files holding float32 arrays. */
#ifndef DYCE_CLI_NPY_H
#define DYCE_CLI_NPY_H

#include <stddef.h>

#define DYCE_NPY_MAX_RANK 8

typedef struct npy_array {
  size_t rank;
  size_t shape[DYCE_NPY_MAX_RANK];
  size_t count;
  float *data; /* malloc'ed; caller frees */
} npy_array;

/* Reads a little-endian float32, C-order .npy file. On failure returns
 * non-zero and writes a reason into `why`. */
int npy_read(const char *path, npy_array *out, char *why, size_t why_size);
int npy_write(const char *path, const float *data, const size_t *shape,
              size_t rank, char *why, size_t why_size);

#endif /* DYCE_CLI_NPY_H */
