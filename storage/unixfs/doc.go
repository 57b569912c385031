// Package unixfs turns files and directories into UnixFS DAGs and back.
//
// # What it owns
//
// Import: the byte-exact UnixFS encoding of Kubo 0.43's `unixfs-v1-2025`
// import profile (IPIP-499), the only layout this package produces:
//
//   - CIDv1, sha2-256, raw leaves (codec raw), 1 MiB fixed-size chunks;
//   - files as a balanced DAG of dag-pb File nodes, at most 1024 links each;
//     a file of at most one chunk is just its raw leaf (the empty file too);
//   - directories as basic dag-pb Directory nodes until the serialized block
//     would exceed 256 KiB (block-based size estimation, "> threshold"), then
//     as a HAMT (murmur3-x64-64, fanout 256);
//   - symlinks as UnixFS Symlink nodes (never followed); empty directories are
//     kept; no mode or mtime metadata; no wrapping directory.
//
// The root CID equals `ipfs add -Q -r [--hidden]` of a Kubo 0.43 repo
// initialised with `--profile=unixfs-v1-2025`; testdata/kubo_vectors.json
// holds CIDs produced by the real Kubo binary for a range of shapes.
//
// Export: reading any UnixFS file (raw or dag-pb leaves, any chunking or
// layout, balanced or trickle, CIDv0 or v1) as an [io.ReadSeekCloser]
// ([Open]), materialising files, directories (basic and HAMT-sharded) and
// symlinks on disk ([WriteTo]), and describing a root ([Stat]). Blocks come
// from an [ipld.NodeGetter]: a merkledag DAGService over a boxo BlockService
// fetches missing blocks from the network, one over an offline BlockService
// (blockservice.New(bstore, nil)) reads a local blockstore only.
//
// # How to use it
//
//	root, err := unixfs.ImportPath(ctx, bstore, "./site", unixfs.Options{})
//	root, err := unixfs.ImportReader(ctx, bstore, req.Body, unixfs.Options{})
//	root, err := unixfs.ImportNode(ctx, bstore, multipartDir, unixfs.Options{})
//
//	dag := merkledag.NewDAGService(blockservice.New(bstore, exchange))
//	f, err := unixfs.Open(ctx, dag, root) // cat
//	err = unixfs.WriteTo(ctx, dag, root, "./out", unixfs.ExportOptions{}) // get
//
// Blocks are written through [BlockWriter] in batches, children before their
// parents, so an interrupted import leaves only complete subtrees behind.
//
// # Memory and speed
//
// File import streams: it holds at most a few 1 MiB chunks per hashing
// worker, three write batches (≤ 16 MiB or 128 blocks each: one filling, one
// queued, one being written by a writer goroutine so that storing overlaps
// hashing) and one partial node per tree level, whatever the file size.
// Leaves are hashed by Options.Concurrency workers and put back in order
// before tree building. A directory holds one entry (name, CID, sizes) per
// child while it is being built, as Kubo does.
//
// # Concurrency contract
//
// The Import functions are synchronous: every goroutine they start has ended
// when they return, and ctx cancellation stops them (a Read blocked inside
// the caller's io.Reader returns only when that reader does). WriteTo and
// FileReader prefetch blocks through ipld.GetNodes; WriteTo cancels its
// prefetches before returning and FileReader.Close cancels its own, and those
// fetch goroutines exit as soon as they see the cancellation.
// BlockWriter.PutMany is called from one goroutine at a time. Options.Progress
// is called from one goroutine at a time, never after the call returns. A
// [FileReader] is not safe for concurrent use; it fetches with the ctx given
// to [Open] and releases its prefetches on Close.
//
// # Tests and benchmarks
//
//	go test ./storage/unixfs                  # golden Kubo vectors, round trips, bad input (-short: skip the GiB files)
//	IPDM_KUBO_BIN=/path/to/ipfs go test ./storage/unixfs -run TestKuboVectors [-update-kubo]
//	go test ./storage/unixfs -run XXX -bench Add -benchtime 10x   # ratios to raw SHA-256
//
// Errors: [ErrNotUnixFS], [ErrNotFile], [ErrMalformed], [ErrInvalidName] are
// sentinels to test with errors.Is; missing blocks surface as the getter's
// error (ipld.ErrNotFound for an offline BlockService) wrapped with the CID;
// a cancelled ctx surfaces as ctx.Err().
package unixfs
