/*
 * JPEG through libjpeg (Debian's libjpeg62-turbo) where the build has it
 * (DYCE_HAVE_LIBJPEG, natively); elsewhere every JPEG is refused with a
 * message saying why. libjpeg reports errors through error_exit, which
 * here jumps back (setjmp) with the message instead of exiting, and its
 * warnings are not printed. Defaults are kept: the exact integer DCT and
 * fancy upsampling, which is how PIL decodes, so the pixels are the same.
 * The EXIF orientation is applied, as browsers show the image (and
 * models/dyce_build/images.py reads it).
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

/* The EXIF orientation (1..8) of an APP1 marker's data, 1 when it has
 * none: "Exif\0\0", a TIFF header (II or MM, 42, the offset of IFD0), and
 * IFD0's 12-byte entries, tag 0x0112 holding a SHORT. Every offset is
 * checked against the marker's length. */
static int exif_orientation(const uint8_t *d, size_t n) {
  if (n < 14 || memcmp(d, "Exif\0\0", 6) != 0) return 1;
  const uint8_t *t = d + 6;
  size_t len = n - 6;
  int le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
#define U16(p) (le ? (uint32_t)(p)[0] | (uint32_t)(p)[1] << 8 : (uint32_t)(p)[1] | (uint32_t)(p)[0] << 8)
#define U32(p) (le ? U16(p) | U16((p) + 2) << 16 : U16((p) + 2) | U16(p) << 16)
  size_t ifd = U32(t + 4);
  if (U16(t + 2) != 42 || ifd > len - 2) return 1;
  size_t count = U16(t + ifd);
  for (size_t i = 0; i < count && ifd + 2 + 12 * (i + 1) <= len; i++) {
    const uint8_t *e = t + ifd + 2 + 12 * i;
    if (U16(e) == 0x0112 && U16(e + 2) == 3) {
      uint32_t v = U16(e + 8);
      return v >= 1 && v <= 8 ? (int)v : 1;
    }
  }
  return 1;
#undef U16
#undef U32
}

/* The pixels as shown: the EXIF orientation applied (as PIL's
 * ImageOps.exif_transpose and browsers do). Returns the new buffer (the
 * old one freed) or NULL when out of memory; *w, *h are the new sizes. */
static uint8_t *orient(uint8_t *rgb, size_t *w, size_t *h, int o) {
  if (o == 1) return rgb;
  size_t sw = *w, sh = *h, dw = o >= 5 ? sh : sw, dh = o >= 5 ? sw : sh;
  uint8_t *out = malloc(sw * sh * 3);
  if (out) {
    for (size_t y = 0; y < dh; y++)
      for (size_t x = 0; x < dw; x++) {
        size_t sx = x, sy = y; /* the source pixel shown at (x, y) */
        switch (o) {
          case 2: sx = sw - 1 - x; break;
          case 3: sx = sw - 1 - x, sy = sh - 1 - y; break;
          case 4: sy = sh - 1 - y; break;
          case 5: sx = y, sy = x; break;
          case 6: sx = y, sy = sh - 1 - x; break;
          case 7: sx = sw - 1 - y, sy = sh - 1 - x; break;
          case 8: sx = sw - 1 - y, sy = x; break;
        }
        memcpy(out + 3 * (y * dw + x), rgb + 3 * (sy * sw + sx), 3);
      }
    *w = dw, *h = dh;
  }
  free(rgb);
  return out;
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
  jpeg_save_markers(&info, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&info, TRUE);
  int orientation = 1;
  for (jpeg_saved_marker_ptr m = info.marker_list; m && orientation == 1; m = m->next)
    orientation = exif_orientation(m->data, m->data_length);
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
  if (!(rgb = orient(rgb, &w, &h, orientation))) {
    snprintf(why, why_size, "JPEG: out of memory");
    return 1;
  }
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
