/* csvfilter: keep the CSV rows whose column equals a value, an example IPDM
 * job written in C.
 *
 *   csvfilter COLUMN VALUE
 *
 * Reads RFC 4180 CSV (quoted fields may hold commas, quotes and newlines)
 * from stdin, which the sandbox connects to the first input file. Writes the
 * header and the matching rows, byte for byte as they were, to
 * /outputs/filtered.csv (stdout when there is no /outputs), and a summary
 * with the SHA-256 of that output to stdout. Exit code 2 means bad usage or
 * an unknown column.
 *
 *   clang --target=wasm32-wasi -O2 -o csvfilter.wasm csvfilter.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipdm.h"

typedef struct {
	char *p;
	size_t len, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		while (cap < b->len + n) cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			fputs("csvfilter: out of memory\n", stderr);
			exit(1);
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* record_end returns the end of the record starting at p: just past its
 * newline (outside quotes), or end. */
static const char *record_end(const char *p, const char *end) {
	int inq = 0;
	for (; p < end; p++) {
		if (*p == '"') {
			inq = !inq; /* an escaped "" toggles twice */
		} else if (*p == '\n' && !inq) {
			return p + 1;
		}
	}
	return end;
}

/* field stores the unquoted value of column idx of the record [p, end) in
 * out and reports whether the column exists. */
static int field(const char *p, const char *end, int idx, buf *out) {
	int col = 0;
	out->len = 0;
	while (end > p && (end[-1] == '\n' || end[-1] == '\r')) end--;
	for (;;) {
		int quoted = p < end && *p == '"';
		const char *start;
		if (quoted) p++;
		start = p;
		while (p < end) {
			if (quoted && *p == '"') {
				if (col == idx) put(out, start, (size_t)(p - start));
				if (p + 1 < end && p[1] == '"') { /* escaped quote: keep one */
					p += 1;
					start = p;
					p++;
					continue;
				}
				quoted = 0;
				start = ++p;
				continue;
			}
			if (!quoted && *p == ',') break;
			p++;
		}
		if (col == idx) {
			put(out, start, (size_t)(p - start));
			return 1;
		}
		if (p >= end) return 0;
		p++;
		col++;
	}
}

static int equals(const buf *b, const char *s) {
	size_t n = strlen(s);
	return b->len == n && memcmp(b->p, s, n) == 0;
}

int main(int argc, char **argv) {
	if (argc != 3) {
		fputs("usage: csvfilter COLUMN VALUE\n", stderr);
		return 2;
	}
	buf in = {0}, val = {0}, out = {0};
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) put(&in, chunk, n);
	const char *p = in.p, *end = in.p + in.len;
	if (in.len == 0) {
		fputs("csvfilter: empty input\n", stderr);
		return 2;
	}
	const char *rec_end = record_end(p, end);
	int idx = -1;
	for (int i = 0; field(p, rec_end, i, &val); i++) {
		if (equals(&val, argv[1])) {
			idx = i;
			break;
		}
	}
	if (idx < 0) {
		fprintf(stderr, "csvfilter: no column %s\n", argv[1]);
		return 2;
	}
	put(&out, p, (size_t)(rec_end - p));
	long rows = 0, matched = 0;
	for (p = rec_end; p < end; p = rec_end) {
		rec_end = record_end(p, end);
		rows++;
		if (field(p, rec_end, idx, &val) && equals(&val, argv[2])) {
			matched++;
			put(&out, p, (size_t)(rec_end - p));
		}
	}

	FILE *f = fopen("/outputs/filtered.csv", "wb");
	if (!f) f = stdout;
	if (out.len > 0 && fwrite(out.p, 1, out.len, f) != out.len) {
		perror("csvfilter: write");
		return 1;
	}
	if (f != stdout && fclose(f) != 0) {
		perror("csvfilter: close");
		return 1;
	}

	uint8_t sum[32];
	ipdm_sha256(out.p, (uint32_t)out.len, sum);
	printf("rows %ld matched %ld sha256 ", rows, matched);
	for (int i = 0; i < 32; i++) printf("%02x", sum[i]);
	printf("\n");
	return 0;
}
