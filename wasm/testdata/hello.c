/* hello.c: the smallest C guest, for measuring per-run overhead. */
#include <stdio.h>

int main(void) {
	puts("hello");
	return 0;
}
