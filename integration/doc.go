// Package integration holds the multi-process tests: real ipdm daemons as
// separate OS processes on loopback, driven through their HTTP API and CLI,
// and (when IPDM_KUBO_BIN names a Kubo binary) a stock Kubo node.
package integration
