// Package blocks owns the node's block stores: where content-addressed
// blocks live and the guarantee that what is read back is what was hashed.
//
// Two stores implement boxo's blockstore.Blockstore (plus
// blockstore.AllKeysChanWithErrer) with identical semantics:
//
//   - Disk (OpenDisk): the persistent store, a go-ds-flatfs folder laid out
//     like Kubo's (one <base32 multihash>.data file per block, next-to-last/2
//     sharding). Writes go to a temp file that is fsynced and renamed into
//     place, then the directory is fsynced, so a crash never leaves a torn
//     block visible, and leftover temp files are removed at open. Every Get
//     hashes the bytes read and compares them to the requested CID: a
//     mismatch moves the file to the quarantine folder, is logged and
//     counted, and Get returns a *CorruptError, which matches ErrCorrupt and
//     also ipld.ErrNotFound, so a blockservice simply refetches the block
//     from the network. Verify does the same check over the whole store.
//   - Memory (NewMemory): the in-memory store for tests and benchmarks.
//
// Blocks are keyed by multihash, as in Kubo: a CIDv0 and a CIDv1 (of any
// codec) with the same multihash share one stored block, Get returns it under
// whatever CID was asked for, and AllKeysChan lists CIDv1s with the raw codec.
// Put of an already stored multihash is a no-op; Put refuses CIDs whose hash
// function this build cannot compute (ErrUnsupportedHash), since they could
// never be verified. Identity-hash CIDs are stored like any other; wrap the
// store in boxo's blockstore.NewIdStore to keep them out of it.
//
// Stat returns counters (blocks, bytes, corrupt) kept in memory: computed by
// a scan at open and updated on every put, delete and quarantine, so it is
// cheap enough for every Prometheus scrape. They stay exact as long as only
// this process writes the folder.
//
// Concurrency: every method of Disk and Memory is safe for concurrent use.
// Writers of the same multihash are serialised by a per-key lock (so the
// counters are exact); PutMany never waits for a key while holding others.
// The goroutine behind AllKeysChan stops when the listing ends or its context
// is done. Disk.Close is idempotent; afterwards every method returns
// ErrClosed.
//
// Package blockstest holds the conformance suite both stores pass.
package blocks
