/*
 * ipdm_pipeline.h: the C side of the IPDM pipeline module ABI.
 *
 * A pipeline module is a WASI reactor whose entrypoints the host calls once
 * per block with the length of the block's framed input:
 *
 *     clang --target=wasm32-wasi -O2 -mexec-model=reactor -o module.wasm module.c
 *
 *     #include "ipdm_pipeline.h"
 *
 *     __attribute__((export_name("map_rows")))
 *     void map_rows(int32_t n) {
 *         uint8_t *buf = ipdm_read_input(n);        // malloc'ed, n bytes
 *         ipdm_input in;
 *         if (ipdm_decode_input(buf, (size_t)n, &in) != 0) ipdm_panic_str("bad input");
 *         ipdm_bytes src;
 *         ipdm_input_at(&in, 0, &src);              // input 0, e.g. a block's JSON
 *         ipdm_output(src.ptr, src.len);
 *         free(buf);
 *     }
 *
 * Framing (all little-endian, see package github.com/ipdm/ipdm/pipeline/abi):
 *     Input:   u64 block | u64 time | u32 count | count x (u32 len | bytes)
 *     Records: u32 count | count x (u32 len | bytes)
 *     Deltas:  u32 count | count x (u32 keylen | key | u32 vallen | value)
 * The decoders check every length against the buffer; they return -1 on
 * malformed frames and never read outside [ptr, ptr+len).
 *
 * Store values are bytes: bigint and int64 as decimal ASCII, strings as
 * UTF-8, bytes raw.
 */
#ifndef IPDM_PIPELINE_H
#define IPDM_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define IPDM_IMPORT(name) __attribute__((import_module("ipdm"), import_name(name)))

IPDM_IMPORT("input") void __ipdm_input(void *ptr);
IPDM_IMPORT("output") void __ipdm_output(const void *ptr, uint32_t len);
IPDM_IMPORT("store_write") void __ipdm_store_write(const void *kp, uint32_t kl, const void *vp, uint32_t vl);
IPDM_IMPORT("store_get") int32_t __ipdm_store_get(int32_t input, const void *kp, uint32_t kl, void *bp, uint32_t bcap);
IPDM_IMPORT("log") void __ipdm_log(const void *ptr, uint32_t len);
IPDM_IMPORT("panic") void __ipdm_panic(const void *ptr, uint32_t len);

/* A byte string inside a frame (not NUL-terminated). */
typedef struct {
	const uint8_t *ptr;
	uint32_t len;
} ipdm_bytes;

/* Copies the call's n input bytes to dst (which must hold n bytes). */
static inline void ipdm_input_copy(void *dst) { __ipdm_input(dst); }

/* Ends the call; the host reports the message verbatim as the trap. */
__attribute__((noreturn)) static inline void ipdm_panic(const void *msg, size_t len) {
	__ipdm_panic(msg, (uint32_t)len);
	__builtin_unreachable();
}

__attribute__((noreturn)) static inline void ipdm_panic_str(const char *msg) { ipdm_panic(msg, strlen(msg)); }

/* Fetches the call's input into a malloc'ed buffer of n bytes (free it),
 * panicking if memory runs out. */
static inline uint8_t *ipdm_read_input(int32_t n) {
	if (n < 0) ipdm_panic_str("ipdm: negative input length");
	uint8_t *buf = (uint8_t *)malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL) ipdm_panic_str("ipdm: out of memory reading the input");
	__ipdm_input(buf);
	return buf;
}

/* Emits one output record. */
static inline void ipdm_output(const void *rec, size_t len) { __ipdm_output(rec, (uint32_t)len); }

/* Emits one store write. */
static inline void ipdm_store_write(const void *key, size_t klen, const void *val, size_t vlen) {
	__ipdm_store_write(key, (uint32_t)klen, val, (uint32_t)vlen);
}

/* Reads key from the store that is the module's input number input: -1 when
 * absent, else the value's length, with min(length, cap) bytes copied to buf
 * (call again with a bigger buffer when the length exceeds cap). */
static inline int32_t ipdm_store_get(int32_t input, const void *key, size_t klen, void *buf, size_t cap) {
	return __ipdm_store_get(input, key, (uint32_t)klen, buf, (uint32_t)cap);
}

/* Sends one debug line (captured up to a per-call cap). */
static inline void ipdm_log(const void *msg, size_t len) { __ipdm_log(msg, (uint32_t)len); }
static inline void ipdm_log_str(const char *msg) { __ipdm_log(msg, (uint32_t)strlen(msg)); }

/* Framing. */

static inline uint32_t ipdm__u32(const uint8_t *p) {
	uint32_t v;
	memcpy(&v, p, 4);
	return v; /* wasm32 is little-endian */
}

static inline uint64_t ipdm__u64(const uint8_t *p) {
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* Reads one (u32 len | bytes) at *p, advancing *p; -1 if it overruns end. */
static inline int ipdm__take(const uint8_t **p, const uint8_t *end, ipdm_bytes *out) {
	if ((size_t)(end - *p) < 4) return -1;
	uint32_t n = ipdm__u32(*p);
	*p += 4;
	if ((size_t)(end - *p) < n) return -1;
	out->ptr = *p;
	out->len = n;
	*p += n;
	return 0;
}

/* A decoded Input: entries are read in place with ipdm_input_at. */
typedef struct {
	uint64_t block; /* block or slot number */
	uint64_t time;  /* unix seconds, 0 when unknown */
	uint32_t count; /* number of inputs, one per manifest input */
	const uint8_t *entries;
	const uint8_t *end;
} ipdm_input;

/* Decodes and fully validates an Input frame; 0 on success, -1 if malformed. */
static inline int ipdm_decode_input(const uint8_t *buf, size_t len, ipdm_input *in) {
	if (len < 20) return -1;
	in->block = ipdm__u64(buf);
	in->time = ipdm__u64(buf + 8);
	in->count = ipdm__u32(buf + 16);
	in->entries = buf + 20;
	in->end = buf + len;
	const uint8_t *p = in->entries;
	ipdm_bytes b;
	for (uint32_t i = 0; i < in->count; i++) {
		if (ipdm__take(&p, in->end, &b) != 0) return -1;
	}
	return p == in->end ? 0 : -1;
}

/* Sets *out to input number i; -1 if i is out of range. */
static inline int ipdm_input_at(const ipdm_input *in, uint32_t i, ipdm_bytes *out) {
	if (i >= in->count) return -1;
	const uint8_t *p = in->entries;
	for (uint32_t j = 0; j <= i; j++) {
		if (ipdm__take(&p, in->end, out) != 0) return -1;
	}
	return 0;
}

/* Iterates a Records or Deltas frame. */
typedef struct {
	const uint8_t *p, *end;
	uint32_t left;
} ipdm_iter;

/* Starts iterating a Records or Deltas frame; 0 on success, -1 if the count
 * is missing. */
static inline int ipdm_iter_init(ipdm_iter *it, ipdm_bytes frame) {
	if (frame.len < 4) return -1;
	it->left = ipdm__u32(frame.ptr);
	it->p = frame.ptr + 4;
	it->end = frame.ptr + frame.len;
	return 0;
}

/* Next record: 1 with *rec set, 0 at the end of a well-formed frame, -1 if
 * malformed (including trailing bytes). */
static inline int ipdm_records_next(ipdm_iter *it, ipdm_bytes *rec) {
	if (it->left == 0) return it->p == it->end ? 0 : -1;
	if (ipdm__take(&it->p, it->end, rec) != 0) return -1;
	it->left--;
	return 1;
}

/* Next delta: 1 with *key and *value set, 0 at the end, -1 if malformed. */
static inline int ipdm_deltas_next(ipdm_iter *it, ipdm_bytes *key, ipdm_bytes *value) {
	if (it->left == 0) return it->p == it->end ? 0 : -1;
	if (ipdm__take(&it->p, it->end, key) != 0 || ipdm__take(&it->p, it->end, value) != 0) return -1;
	it->left--;
	return 1;
}

#endif /* IPDM_PIPELINE_H */
