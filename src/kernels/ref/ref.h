/* Declarations of the scalar reference kernels (see kernels.h). */
#ifndef DYCE_KERNELS_REF_H
#define DYCE_KERNELS_REF_H

#include "../kernels.h"

size_t dyce__ref_conv2d_packed_floats(const dyce__window *g);
void dyce__ref_pack_conv2d(const dyce__window *g, const float *ohwi,
                           float *dst);
size_t dyce__ref_conv2d_scratch_bytes(const dyce__window *g);
void dyce__ref_conv2d(const dyce__window *g, const float *in,
                      const float *packed, const float *bias,
                      dyce__activation act, float *out, void *scratch);
size_t dyce__ref_fc_packed_floats(size_t k, size_t n);
void dyce__ref_pack_fc(size_t k, size_t n, const float *nk, float *dst);
void dyce__ref_fully_connected(size_t k, size_t k_packed, size_t n,
                               const float *in,
                               const float *packed, const float *bias,
                               dyce__activation act, float *out);
void dyce__ref_max_pool(const dyce__window *g, const float *in,
                        dyce__activation act, float *out);
void dyce__ref_avg_pool(const dyce__window *g, int count_include_pad,
                        const float *in, dyce__activation act, float *out);
void dyce__ref_global_avg_pool(size_t hw, size_t c, const float *in,
                               dyce__activation act, float *out);
void dyce__ref_global_max_pool(size_t hw, size_t c, const float *in,
                               dyce__activation act, float *out);
void dyce__ref_concat_channels(size_t hw, size_t count, const size_t *c,
                               const float *const *in, float *out);
void dyce__ref_binary(dyce__op op, size_t n, size_t c, const float *a,
                      const float *b, size_t b_count, dyce__activation act,
                      float *out);
void dyce__ref_channel_affine(size_t n, size_t c, const float *in,
                              const float *scale, const float *shift,
                              dyce__activation act, float *out);
void dyce__ref_activation(size_t n, const float *in, dyce__activation act,
                          float *out);
void dyce__ref_softmax(size_t rows, size_t c, const float *in, float *out);
void dyce__ref_flatten_chw(size_t h, size_t w, size_t c, const float *in,
                           float *out);

#endif /* DYCE_KERNELS_REF_H */
