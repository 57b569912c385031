/* ipdm.h: host functions the IPDM sandbox offers to C guests.
 *
 * Build guests with Debian's clang and wasi-libc:
 *   apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32
 *   clang --target=wasm32-wasi -O2 -o prog.wasm prog.c
 */
#ifndef IPDM_H
#define IPDM_H

#include <stdint.h>

/* ipdm_sha256 writes the SHA-256 of data[0:len] to out[0:32]. The host
 * computes it (much faster than hashing in Wasm); it costs 100 + len fuel. */
__attribute__((import_module("ipdm"), import_name("sha256")))
void ipdm_sha256(const void *data, uint32_t len, uint8_t out[32]);

#endif
