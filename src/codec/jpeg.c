/*
 * JPEG through libjpeg (Debian's libjpeg62-turbo) where the build has it
 * (DYCE_HAVE_LIBJPEG, natively); elsewhere every JPEG is refused with a
 * message saying why. libjpeg reports errors through error_exit, which
 * here jumps back (setjmp) with the message instead of exiting, and its
 * warnings are not printed. Defaults are kept: the exact integer DCT and
 * fancy upsampling, which is how PIL decodes, so the pixels are the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

#ifdef DYCE_HAVE_LIBJPEG
#include <setjmp.h>

#include <jpeglib.h>
#include <jerror.h> /* JWRN_JPEG_EOF */

typedef struct jpeg_failure {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} jpeg_failure;

static void on_error(j_common_ptr info) {
  jpeg_failure *f = (jpeg_failure *)info->err;
  f->mgr.format_message(info, f->message);
  longjmp(f->jump, 1);
}

static void on_message(j_common_ptr info) { (void)info; } /* never print */

/* Warnings are not printed; a file that ends early (which libjpeg would
 * pad with gray) is an error, as PIL makes it one. */
static void on_warning(j_common_ptr info, int level) {
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) on_error(info);
}

int dyce__jpeg_decode(const uint8_t *bytes, size_t size, size_t max_pixels,
                     dyce__image *out, char *why, size_t why_size) {
  struct jpeg_decompress_struct info;
  jpeg_failure failure;
  /* volatile: read after longjmp. */
  uint8_t *volatile rgb = NULL;
  uint8_t *volatile row = NULL;
  memset(out, 0, sizeof *out);
  info.err = jpeg_std_error(&failure.mgr);
  failure.mgr.error_exit = on_error;
  failure.mgr.output_message = on_message;
  failure.mgr.emit_message = on_warning;
  if (setjmp(failure.jump)) {
    snprintf(why, why_size, "JPEG: %s", failure.message);
    jpeg_destroy_decompress(&info);
    free(rgb);
    free(row);
    return 1;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes, (unsigned long)size);
  jpeg_read_header(&info, TRUE);
  int gray = info.jpeg_color_space == JCS_GRAYSCALE;
  if (!gray && info.jpeg_color_space != JCS_YCbCr && info.jpeg_color_space != JCS_RGB) {
    snprintf(why, why_size, "JPEG: colour space %d (CMYK or YCCK) is not supported; "
             "save the image as RGB", (int)info.jpeg_color_space);
    jpeg_destroy_decompress(&info);
    return 1;
  }
  if ((uint64_t)info.image_width * info.image_height > max_pixels) {
    snprintf(why, why_size, "JPEG: image of %ux%u is too large (more than %zu pixels)",
             (unsigned)info.image_width, (unsigned)info.image_height, max_pixels);
    jpeg_destroy_decompress(&info);
    return 1;
  }
  info.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&info);
  size_t w = info.output_width, h = info.output_height, c = (size_t)info.output_components;
  rgb = malloc(w * h * 3);
  row = malloc(w * c);
  if (!rgb || !row) {
    snprintf(failure.message, sizeof failure.message, "out of memory");
    longjmp(failure.jump, 1);
  }
  while (info.output_scanline < info.output_height) {
    size_t y = info.output_scanline;
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&info, rows, 1);
    for (size_t x = 0; x < w; x++)
      for (size_t k = 0; k < 3; k++) rgb[3 * (y * w + x) + k] = row[x * c + (c == 3 ? k : 0)];
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  free(row);
  out->width = w;
  out->height = h;
  out->rgb = rgb;
  out->gray = gray;
  if (!gray) {
    size_t i = 0;
    while (i < w * h && rgb[3 * i] == rgb[3 * i + 1] && rgb[3 * i + 1] == rgb[3 * i + 2]) i++;
    out->gray = i == w * h;
  }
  return 0;
}

#else

int dyce__jpeg_decode(const uint8_t *bytes, size_t size, size_t max_pixels,
                     dyce__image *out, char *why, size_t why_size) {
  (void)bytes, (void)size, (void)max_pixels;
  memset(out, 0, sizeof *out);
  snprintf(why, why_size,
           "JPEG is not supported by this build of dyce (it was built without "
           "libjpeg, as the WASI and browser builds are); convert the images "
           "to PNG or use the native build");
  return 1;
}

#endif
