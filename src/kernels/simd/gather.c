/* channel_gather, the channel slices, splits and shuffles of a model:
 * a gather table made of few runs of consecutive channels (a slice, the
 * halves of ShuffleNet's split) is copied run by run; the interleave of
 * two halves (ShuffleNet's channel shuffle: out[2j] = in[a + j],
 * out[2j + 1] = in[b + j]) is zipped 4 + 4 channels at a time; any other
 * table is the reference's element by element. ShuffleNetV2 spent 5.5 %
 * of its time in the reference's loop. The same values either way. */
#include <string.h>

#include "../ref/ref.h"
#include "simd.h"

/* Runs copied one by one: at most this many, each 4 channels on average
 * or more (shorter ones are no faster than the element loop). */
#define MAX_RUNS 16

typedef struct run {
  uint32_t from, to, len;
} run;

/* The runs of `from`, or 0 when there are more than MAX_RUNS or they
 * are shorter than 4 channels on average. */
static size_t find_runs(size_t n, const uint32_t *from, run *runs) {
  size_t count = 0;
  for (size_t k = 0; k < n; count++) {
    if (count == MAX_RUNS) return 0;
    size_t start = k;
    while (++k < n && from[k] == from[k - 1] + 1) {
    }
    runs[count] = (run){from[start], (uint32_t)start, (uint32_t)(k - start)};
  }
  return count * 4 <= n ? count : 0;
}

/* Whether `from` interleaves two runs of n / 2 channels (n even, >= 8). */
static int interleaves(size_t n, const uint32_t *from) {
  if (n % 2 || n < 8) return 0;
  for (size_t j = 1; j < n / 2; j++)
    if (from[2 * j] != from[0] + j || from[2 * j + 1] != from[1] + j) return 0;
  return 1;
}

void dyce__simd_channel_gather(size_t hw, size_t c, size_t n,
                               const uint32_t *from, const float *in,
                               float *out) {
  run runs[MAX_RUNS];
  size_t count = find_runs(n, from, runs);
  if (count) {
    for (size_t i = 0; i < hw; i++, in += c, out += n)
      for (size_t r = 0; r < count; r++)
        memcpy(out + runs[r].to, in + runs[r].from, sizeof(float) * runs[r].len);
    return;
  }
  if (!interleaves(n, from)) {
    dyce__ref_channel_gather(hw, c, n, from, in, out);
    return;
  }
  size_t half = n / 2;
  for (size_t i = 0; i < hw; i++, in += c, out += n) {
    const float *a = in + from[0], *b = in + from[1];
    size_t j = 0;
    for (; j + 4 <= half; j += 4) {
      dyce__vf x = dyce__vf_load(a + j), y = dyce__vf_load(b + j);
      dyce__vf_store(out + 2 * j, __builtin_shufflevector(x, y, 0, 4, 1, 5));
      dyce__vf_store(out + 2 * j + 4, __builtin_shufflevector(x, y, 2, 6, 3, 7));
    }
    for (; j < half; j++) out[2 * j] = a[j], out[2 * j + 1] = b[j];
  }
}
