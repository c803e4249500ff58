/* Image files decoded to 8-bit RGB for the CLI's image inputs: PNG on
 * the built-in inflate (every build), JPEG through libjpeg where the
 * build has it (natively; WASI refuses JPEG with a message saying so).
 * Nothing in a file is trusted: every length, size and code is checked
 * and a bad file is a one-line reason, never a crash. */
#ifndef DYCE_CODEC_IMAGE_H
#define DYCE_CODEC_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct dyce__image {
  size_t width, height;
  uint8_t *rgb; /* width * height * 3, row-major; malloc'ed */
  /* 1 for a gray file (PNG colour type 0 or 4, a grayscale JPEG), as
   * models/dyce_build/images.py decides it from the file's mode, or for a
   * colour file whose every pixel has R = G = B (the engine's addition:
   * its one-channel input is then R itself, where images.py takes the
   * luma, equal up to ~1e-16). */
  int gray;
} dyce__image;

/* Decodes a PNG or a JPEG (chosen by the file's signature). Images of
 * more than `max_pixels` pixels are refused before any large allocation.
 * Returns 0, or non-zero with a reason in `why` (out is then empty). */
int dyce__image_decode(const uint8_t *bytes, size_t size, size_t max_pixels,
                      dyce__image *out, char *why, size_t why_size);

/* PNG: 1/2/4/8-bit gray, 8/16-bit gray+alpha, RGB and RGBA, 1/2/4/8-bit
 * palette; interlaced (Adam7) or not; all five filters; CRCs checked.
 * 16-bit samples keep their high byte (as PIL does); 16-bit gray without
 * alpha is refused (PIL reads it as 32-bit integers, not as 8-bit gray).
 * An alpha channel lays the picture over black (png.c); a tRNS chunk's
 * transparency is ignored. */
int dyce__png_decode(const uint8_t *bytes, size_t size, size_t max_pixels,
                    dyce__image *out, char *why, size_t why_size);

/* JPEG (baseline or progressive; gray, YCbCr or RGB) through libjpeg with
 * its default, exact integer DCT and fancy upsampling, as PIL decodes it;
 * turned as its EXIF orientation says (as browsers show it). */
int dyce__jpeg_decode(const uint8_t *bytes, size_t size, size_t max_pixels,
                     dyce__image *out, char *why, size_t why_size);

void dyce__image_free(dyce__image *image);

#endif /* DYCE_CODEC_IMAGE_H */
