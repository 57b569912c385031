// Package car moves DAGs in and out of the node as CAR files
// (https://ipld.io/specs/transport/car/).
//
// Export writes a CARv1 with one root, blocks in depth-first pre-order with
// each CID once: byte for byte what Kubo's `ipfs dag export` produces for
// the same DAG (dag-pb and raw blocks; other codecs are refused).
//
// Import streams a CARv1 or CARv2 into a BlockWriter: it never holds more
// than one 8 MiB batch, verifies the hash of every block before writing it,
// enforces size limits on the header and on each block, and reports faults
// as an *ImportError carrying the block index and byte offset, wrapping
// ErrTruncated, ErrMalformed, ErrHashMismatch, ErrTooLarge or
// ErrUnsupportedHash. Blocks written before a fault are verified and
// content-addressed, hence harmless: nothing references them unless a pin
// does, and GC collects them otherwise. Import never panics on any input
// (FuzzImport).
//
// Both functions take small interfaces declared here (BlockGetter,
// BlockWriter) that the stores of package blocks satisfy. They are safe to
// run concurrently on different streams; each call uses only the calling
// goroutine.
package car
