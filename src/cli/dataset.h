/* Image-classification data in the IDX format of (Fashion-)MNIST, read
 * from a directory holding the files plain or gzip'd (as Debian ships). */
#ifndef DYCE_CLI_DATASET_H
#define DYCE_CLI_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct dataset {
  size_t count, height, width;
  uint8_t *images; /* count * height * width, row-major */
  uint8_t *labels; /* count */
} dataset;

/* `part` is "train" (train-*-ubyte) or "test" (t10k-*-ubyte). Prints the
 * reason and returns non-zero on failure. */
int dataset_load(const char *dir, const char *part, dataset *out);
void dataset_free(dataset *d);

/* Reads a whole file, gunzipping it when it ends in ".gz". */
uint8_t *read_whole_file(const char *path, size_t *size);

#endif
