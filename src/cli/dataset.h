/* Image-classification data: the IDX format of (Fashion-)MNIST, read
 * from a directory holding the files plain or gzip'd (as Debian ships),
 * or an image folder DIR/<split>/<class>/<file>.png|.jpg|.jpeg. */
#ifndef DYCE_CLI_DATASET_H
#define DYCE_CLI_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

typedef struct dataset {
  size_t count, height, width;
  uint8_t *images;  /* IDX: count * height * width, row-major */
  uint32_t *labels; /* count class indices */
  char **paths;     /* image folder: one file per sample (images is NULL) */
  const char *part; /* the folder or file set read: "train", "test", "val" */
} dataset;

/* IDX: `part` is "train" (train-*-ubyte) or "test" (t10k-*-ubyte); every
 * label must be one of the classes model `m` outputs. Prints the reason
 * and returns non-zero on failure. */
int dataset_load(const char *dir, const char *part, const dyce_model *m, dataset *out);
void dataset_free(dataset *d);

/* 1 when DIR is a folder (that can be opened). */
int dataset_is_folder(const char *dir);
/* 1 when DIR holds an image folder (DIR/train, DIR/val or DIR/test is a
 * directory, or DIR holds class folders and no IDX files). */
int dataset_is_image_folder(const char *dir);

/* An image folder's split, as models/dyce_build/data.py names them: "test"
 * is DIR/test, or the val folder (DIR/val, DIR/valid or DIR/validation;
 * more than one is an error) when there is no DIR/test (ImageNet's
 * train/ + val/ layout); "val" is the val folder beside DIR/test, else
 * DIR/train (a validation split carved from train: records index it). Class folders are
 * sorted by name; a class's PNG and JPEG files, at any depth under its
 * folder, by their path under it: that order is the sample index. Names
 * starting with '.' and __MACOSX folders are ignored, other image formats
 * (.webp, .bmp, ...) and empty class folders are errors, other files are
 * skipped with a note on stderr (models/dyce_build/data.py's rules).
 * A folder of class folders alone (DIR/<class>/...) holds out the files
 * whose path under DIR hashes under `test_fraction` as "test" (data.py
 * held_out); "train" and "val" read the others (val: carved, by records).  A class folder matches the model's label of the same name, '_'
 * in the folder name standing for '/' in the label; without labels in the
 * package, classes are numbered in folder order. Prints why on failure. */
int dataset_load_images(const char *dir, const char *split,
                        const dyce_model *m, double test_fraction, dataset *out);

/* The normalised NCHW input of sample i (channels * height * width
 * floats of the model's input). Prints why on failure. */
int dataset_input(const dataset *d, size_t i, const dyce_input_spec *in,
                  float *x);

/* Values the package's classifier (the head, else the last graph) outputs:
 * its classes. */
size_t dataset_classifier_outputs(const dyce_model *m);

/* Reads a whole file, gunzipping it when it ends in ".gz". */
uint8_t *read_whole_file(const char *path, size_t *size);

#endif
