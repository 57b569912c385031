/* recordscan-c: the C twin of package recordscan's Scan (see scan.go for the
 * record layout), run over /inputs/records.bin PASSES times.
 *
 *   recordscan-c KIND MASK PASSES
 *   clang --target=wasm32-wasi -O2 -o recordscan-c.wasm recordscan.c
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORD_SIZE 32

typedef struct {
	uint64_t count;
	int64_t sum, min, max;
	uint64_t idxor;
} stats;

static uint32_t u32(const unsigned char *p) {
	uint32_t v;
	memcpy(&v, p, sizeof v); /* wasm is little-endian */
	return v;
}

static uint64_t u64(const unsigned char *p) {
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static stats scan(const unsigned char *data, size_t n, uint32_t kind, uint32_t mask) {
	stats s = {0, 0, INT64_MAX, INT64_MIN, 0};
	for (; n >= RECORD_SIZE; data += RECORD_SIZE, n -= RECORD_SIZE) {
		if (u32(data + 16) == kind && (u32(data + 20) & mask) == mask) {
			int64_t a = (int64_t)u64(data + 8);
			s.count++;
			s.sum += a;
			if (a < s.min) s.min = a;
			if (a > s.max) s.max = a;
			s.idxor ^= u64(data);
		}
	}
	return s;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fputs("usage: recordscan-c KIND MASK PASSES\n", stderr);
		return 2;
	}
	uint32_t kind = (uint32_t)strtoul(argv[1], NULL, 0);
	uint32_t mask = (uint32_t)strtoul(argv[2], NULL, 0);
	int passes = atoi(argv[3]);
	FILE *f = fopen("/inputs/records.bin", "rb");
	if (!f) {
		perror("recordscan-c: /inputs/records.bin");
		return 1;
	}
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *data = malloc(size > 0 ? (size_t)size : 1);
	if (!data || fread(data, 1, (size_t)size, f) != (size_t)size) {
		fputs("recordscan-c: read failed\n", stderr);
		return 1;
	}
	fclose(f);
	stats s = {0};
	for (int i = 0; i < passes; i++) s = scan(data, (size_t)size, kind, mask);
	printf("count=%" PRIu64 " sum=%" PRId64 " min=%" PRId64 " max=%" PRId64 " idxor=%016" PRIx64 "\n",
	       s.count, s.sum, s.min, s.max, s.idxor);
	return 0;
}
