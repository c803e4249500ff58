/*
 * On-disk layout of the .dyce model package, version 1.
 *
 * docs/FORMAT.md describes every field in prose; this header is the same
 * description as constants, and models/convert.py writes exactly this. All
 * integers are little-endian; all floats are IEEE-754 binary32.
 *
 *   offset 0   header            (DYCE__HEADER_BYTES)
 *   offset 64  section table     (section_count entries of 32 bytes)
 *   then       sections, each starting on a 16-byte boundary
 *
 * Sections are found by tag; a reader skips tags it does not know, so later
 * minor additions (configuration tables, width levels) stay readable.
 */
#ifndef DYCE_FORMAT_H
#define DYCE_FORMAT_H

#include <stdint.h>

#define DYCE__MAGIC "DYCE"
#define DYCE__VERSION 1u        /* float32 tensors only */
#define DYCE__VERSION_Q8 2u     /* with int8 tensors (QTEN, docs/INT8.md) */
#define DYCE__HEADER_BYTES 64u
#define DYCE__SECTION_ENTRY_BYTES 32u
#define DYCE__SECTION_ALIGN 16u
#define DYCE__NONE 0xFFFFFFFFu /* "no tensor" / "package input" */

/* Header field offsets. */
enum {
  DYCE__H_MAGIC = 0,         /* char[4] "DYCE" */
  DYCE__H_VERSION = 4,       /* u32, 1 or 2 */
  DYCE__H_HEADER_BYTES = 8,  /* u32, must be 64 */
  DYCE__H_SECTION_COUNT = 12,/* u32 */
  DYCE__H_FILE_BYTES = 16,   /* u64, must equal the size handed to the loader */
  DYCE__H_FLAGS = 24         /* u32, must be 0 in v1; 28..63 reserved, zero */
};

/* Section table entry field offsets (entry i at 64 + 32*i). */
enum {
  DYCE__S_TAG = 0,    /* char[4] */
  DYCE__S_FLAGS = 4,  /* u32, 0 */
  DYCE__S_OFFSET = 8, /* u64, multiple of 16 */
  DYCE__S_BYTES = 16  /* u64; 24..31 reserved */
};

/* Section tags. */
#define DYCE__TAG_STRINGS "STRS" /* NUL-terminated UTF-8 strings */
#define DYCE__TAG_INPUT "INPT"   /* input spec */
#define DYCE__TAG_LABELS "LABL"  /* class labels (optional) */
#define DYCE__TAG_GRAPHS "GRPH"  /* graph records */
#define DYCE__TAG_TENSORS "TENS" /* tensor records of all graphs */
#define DYCE__TAG_NODES "NODE"   /* node records of all graphs */
#define DYCE__TAG_WEIGHTS "WGHT" /* float32 array */
#define DYCE__TAG_CONFIGS "CONF" /* cascade configurations (optional) */
#define DYCE__TAG_LEVELS "LEVL"  /* width levels (optional) */
#define DYCE__TAG_QTENSORS "QTEN" /* tensor types (version 2 only, required) */

/* QTEN: u32 count (= TENS records), 12 reserved bytes, then count records
 * of 16 bytes: u32 dtype (0 float32, 1 int8), f32 scale, i32 zero point,
 * u32 reserved. Float tensors have scale 0 and zero point 0. */
enum {
  DYCE__Q_FIXED_BYTES = 16,
  DYCE__Q_RECORD_BYTES = 16,
  DYCE__Q_DTYPE = 0,
  DYCE__Q_SCALE = 4,
  DYCE__Q_ZERO_POINT = 8
};

/* LEVL: u32 count, u32 entry_total, 8 reserved bytes, then count level
 * records of 48 bytes, then entry_total entries of 12 bytes. */
enum {
  DYCE__V_FIXED_BYTES = 16,
  DYCE__V_RECORD_BYTES = 48,
  DYCE__V_NAME = 0,          /* char[32], NUL-terminated */
  DYCE__V_ENTRY_START = 32,  /* u32: entries of this level start here */
  DYCE__V_ENTRY_COUNT = 36,  /* u32; 40..47 reserved */
  DYCE__V_ENTRY_BYTES = 12   /* u32 graph, u32 node, u32 channels */
};

/* INPT: 32-byte fixed part, then f32 mean[c], f32 std[c]. */
enum {
  DYCE__I_LAYOUT = 0,      /* u32, 0 = NHWC */
  DYCE__I_H = 4,           /* u32 */
  DYCE__I_W = 8,           /* u32 */
  DYCE__I_C = 12,          /* u32 */
  DYCE__I_PIXEL_SCALE = 16,/* f32: tensor = (pixel * scale - mean) / std */
  DYCE__I_FIXED_BYTES = 32 /* 20..31 reserved, zero */
};

/* LABL: u32 count, u32 reserved, then u32 string offsets[count]. */
enum { DYCE__L_FIXED_BYTES = 8 };

/* GRPH: u32 count, 12 reserved bytes, then count records of 64 bytes. */
enum {
  DYCE__G_FIXED_BYTES = 16,
  DYCE__G_RECORD_BYTES = 64,
  DYCE__G_NAME = 0,         /* u32 string offset */
  DYCE__G_SOURCE = 4,       /* u32 graph index (< own index) or NONE = package input */
  DYCE__G_TENSOR_START = 8, /* u32 first record in TENS */
  DYCE__G_TENSOR_COUNT = 12,/* u32 */
  DYCE__G_NODE_START = 16,  /* u32 first record in NODE */
  DYCE__G_NODE_COUNT = 20,  /* u32 */
  DYCE__G_INPUT = 24,       /* u32 local tensor index of the graph input */
  DYCE__G_OUTPUT = 28,      /* u32 local tensor index of the graph output */
  DYCE__G_MACS = 32         /* u64 multiply-accumulates (conv + fc); 40..63 reserved */
};

/* TENS: records of 16 bytes: u32 n, h, w, c (NHWC, n == 1). */
enum { DYCE__T_RECORD_BYTES = 16 };

/* NODE: records of 96 bytes. */
enum {
  DYCE__N_RECORD_BYTES = 96,
  DYCE__N_OP = 0,           /* u32 dyce__op */
  DYCE__N_ACT = 4,          /* u32 dyce__act, fused activation */
  DYCE__N_ACT_A = 8,        /* f32 first activation parameter */
  DYCE__N_ACT_B = 12,       /* f32 second activation parameter */
  DYCE__N_IN0 = 16,         /* u32 local tensor index */
  DYCE__N_IN1 = 20,         /* u32 local tensor index or NONE */
  DYCE__N_OUT = 24,         /* u32 local tensor index */
  DYCE__N_WEIGHT_TYPE = 28, /* u32: 0 float32; 1 float16 weights and bias
                               of a float node (version 2 only) */
  DYCE__N_WEIGHT_OFF = 32,  /* u32 offset into WGHT in floats, multiple of 4 */
  DYCE__N_WEIGHT_COUNT = 36,/* u32 floats */
  DYCE__N_BIAS_OFF = 40,    /* u32 offset in floats, multiple of 4 */
  DYCE__N_BIAS_COUNT = 44,  /* u32 floats */
  DYCE__N_PARAMS = 48,      /* i32 p[12] */
  DYCE__N_PARAM_COUNT = 12
};

/* Op and activation codes (dyce__op, dyce__act, their X-macros) and the
 * node parameter slots DYCE__P_*: generated from spec/codes.json. */
#include "codes.h"

/* Most inputs one node reads: concat's in0, in1 and 11 more. */
#define DYCE__MAX_NODE_INPUTS (2 + DYCE__N_PARAM_COUNT - 1)

#endif /* DYCE_FORMAT_H */
