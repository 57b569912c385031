/* pipe.c: a C pipeline module (WASI reactor) exercising the pipeline ABI for
 * the sandbox's instance tests. Build:
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I pipeline/guest -o pipec.wasm pipe.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipdm_pipeline.h"

#define EXPORT(name) __attribute__((export_name(name)))

static int calls;

static void read_input(int32_t n, uint8_t **buf, ipdm_input *in) {
	*buf = ipdm_read_input(n);
	if (ipdm_decode_input(*buf, (size_t)n, in) != 0) ipdm_panic_str("pipec: malformed input");
}

EXPORT("echo") void echo(int32_t n) {
	uint8_t *buf;
	ipdm_input in;
	read_input(n, &buf, &in);
	calls++;
	char hdr[128];
	int hl = snprintf(hdr, sizeof hdr, "block=%llu time=%llu inputs=%u calls=%d", (unsigned long long)in.block,
	                  (unsigned long long)in.time, in.count, calls);
	ipdm_output(hdr, (size_t)hl);
	for (uint32_t i = 0; i < in.count; i++) {
		ipdm_bytes b;
		if (ipdm_input_at(&in, i, &b) != 0) ipdm_panic_str("pipec: input_at");
		ipdm_output(b.ptr, b.len);
	}
	ipdm_bytes first;
	ipdm_iter it;
	if (in.count > 0 && ipdm_input_at(&in, 0, &first) == 0 && ipdm_iter_init(&it, first) == 0) {
		/* Output records only if the whole frame is well-formed. */
		ipdm_iter check = it;
		ipdm_bytes r;
		int rc;
		while ((rc = ipdm_records_next(&check, &r)) == 1) {
		}
		if (rc == 0) {
			while (ipdm_records_next(&it, &r) == 1) {
				char *o = malloc(r.len + 4);
				memcpy(o, "rec:", 4);
				memcpy(o + 4, r.ptr, r.len);
				ipdm_output(o, r.len + 4);
				free(o);
			}
		}
	}
	free(buf);
}

EXPORT("store") void store(int32_t n) {
	uint8_t *buf;
	ipdm_input in;
	read_input(n, &buf, &in);
	ipdm_bytes frame, r;
	ipdm_iter it;
	if (ipdm_input_at(&in, 0, &frame) != 0 || ipdm_iter_init(&it, frame) != 0) ipdm_panic_str("store: no records");
	int rc;
	while ((rc = ipdm_records_next(&it, &r)) == 1) {
		const uint8_t *eq = memchr(r.ptr, '=', r.len);
		if (eq == NULL) ipdm_panic_str("store: record without =");
		size_t kl = (size_t)(eq - r.ptr), vl = r.len - kl - 1;
		ipdm_store_write(r.ptr, kl, eq + 1, vl);
		char small[4];
		int32_t got = ipdm_store_get(1, r.ptr, kl, small, sizeof small);
		char *val = NULL;
		if (got > (int32_t)sizeof small) { /* too big for the first buffer: ask again */
			val = malloc((size_t)got);
			if (ipdm_store_get(1, r.ptr, kl, val, (size_t)got) != got) ipdm_panic_str("store: value changed");
		}
		size_t gl = got < 0 ? 8 : (size_t)got;
		char *o = malloc(r.len + 1 + gl);
		memcpy(o, r.ptr, r.len);
		o[r.len] = '|';
		memcpy(o + r.len + 1, got < 0 ? "<absent>" : (val ? val : small), gl);
		ipdm_output(o, r.len + 1 + gl);
		free(o);
		free(val);
	}
	if (rc < 0) ipdm_panic_str("store: malformed records");
	free(buf);
}

/* deltas outputs "key=value" for every delta of input 0 (a Deltas frame). */
EXPORT("deltas") void deltas(int32_t n) {
	uint8_t *buf;
	ipdm_input in;
	read_input(n, &buf, &in);
	ipdm_bytes frame, k, v;
	ipdm_iter it;
	if (ipdm_input_at(&in, 0, &frame) != 0 || ipdm_iter_init(&it, frame) != 0) ipdm_panic_str("deltas: no frame");
	int rc;
	while ((rc = ipdm_deltas_next(&it, &k, &v)) == 1) {
		char *o = malloc(k.len + 1 + v.len);
		memcpy(o, k.ptr, k.len);
		o[k.len] = '=';
		memcpy(o + k.len + 1, v.ptr, v.len);
		ipdm_output(o, k.len + 1 + v.len);
		free(o);
	}
	if (rc < 0) ipdm_panic_str("deltas: malformed frame");
	free(buf);
}

EXPORT("log") void log_(int32_t n) {
	uint8_t *buf;
	ipdm_input in;
	read_input(n, &buf, &in);
	char line[64];
	int l = snprintf(line, sizeof line, "hello from block %llu", (unsigned long long)in.block);
	ipdm_log(line, (size_t)l);
	char xs[100];
	memset(xs, 'x', sizeof xs);
	ipdm_log(xs, sizeof xs);
	ipdm_output("logged", 6);
	free(buf);
}

EXPORT("explicit_panic") void explicit_panic(int32_t n) {
	uint8_t *buf;
	ipdm_input in;
	read_input(n, &buf, &in);
	ipdm_bytes b;
	ipdm_input_at(&in, 0, &b);
	char msg[256];
	int l = snprintf(msg, sizeof msg, "bad block %llu: %.*s", (unsigned long long)in.block, (int)b.len, (const char *)b.ptr);
	ipdm_panic(msg, (size_t)l);
}

EXPORT("trap") void trap(int32_t n) {
	(void)n;
	__builtin_trap();
}

volatile int sink;

EXPORT("loop") void loop(int32_t n) {
	(void)n;
	for (int i = 0;; i++) sink += i;
}

/* grow grows memory by one page until memory.grow fails, then outputs the
 * number of pages. */
EXPORT("grow") void grow(int32_t n) {
	(void)n;
	while (__builtin_wasm_memory_grow(0, 1) != (size_t)-1) {
	}
	char out[32];
	int l = snprintf(out, sizeof out, "pages=%zu", __builtin_wasm_memory_size(0));
	ipdm_output(out, (size_t)l);
}

EXPORT("det") void det(int32_t n) {
	uint8_t *buf;
	ipdm_input in;
	read_input(n, &buf, &in);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned char r[8];
	getentropy(r, sizeof r);
	puts("stdout line");
	fflush(stdout);
	char out[128];
	int l = snprintf(out, sizeof out, "now=%lld.%09ld rand=%02x%02x%02x%02x%02x%02x%02x%02x", (long long)ts.tv_sec, ts.tv_nsec,
	                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	ipdm_output(out, (size_t)l);
	free(buf);
}

EXPORT("nop") void nop(int32_t n) { (void)n; }
