/* Image files as model input, exactly as models/dyce_build/images.py
 * defines it (the one preprocessing of dyce): decode; center-crop to the
 * input's aspect ratio and box-filter resize in double precision, with
 * normalised, unrounded weights (no resampling at the same size);
 * channels 1 = the gray value of a gray image or BT.601 luma, 3 = RGB;
 * then (p * pixel_scale - mean[c]) / std[c]. */
#ifndef DYCE_CLI_IMAGE_INPUT_H
#define DYCE_CLI_IMAGE_INPUT_H

#include <stddef.h>

#include "../codec/image.h"
#include "../dyce.h"

/* Largest image decoded: 2^26 pixels (8192 x 8192). */
#define IMAGE_MAX_PIXELS ((size_t)1 << 26)

/* What a file name says (any case): PNG or JPEG (.png, .jpg, .jpeg, .jpe,
 * .jfif: read, the decoder chosen by the file's signature), another image
 * format PIL reads but the engine does not decode (.webp, .bmp, .gif,
 * .tif, ...: refused, never skipped), or not an image (skipped). The same
 * lists as models/dyce_build/images.py. */
enum { IMAGE_PATH_NONE = 0, IMAGE_PATH_IMAGE = 1, IMAGE_PATH_OTHER = 2 };
int image_path_kind(const char *path);
/* What a file is by its first bytes: IMAGE_PATH_IMAGE for a PNG or JPEG
 * signature, IMAGE_PATH_OTHER (and `*format`, e.g. "WebP") for another
 * image format's, else IMAGE_PATH_NONE (also when it cannot be read). A
 * file whose name does not say PNG or JPEG is read when its bytes do
 * (images.py kind_of_file). */
int image_file_signature(const char *path, const char **format);
/* The reason a file of another image format is refused (as images.py's
 * other_format_refusal). */
void image_other_format_refusal(const char *path, char *why, size_t why_size);

/* The model input of a decoded image: x holds channels * height * width
 * floats, NCHW. Returns 0, or non-zero with a reason in `why`. */
int image_tensor(const dyce__image *image, const dyce_input_spec *in, float *x,
                 char *why, size_t why_size);

/* Reads, decodes and preprocesses a file; prints "PATH: reason" and
 * returns CLI_FAIL on failure. */
int image_file_tensor(const char *path, const dyce_input_spec *in, float *x);

#endif
