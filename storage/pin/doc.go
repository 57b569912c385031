// Package pin owns which blocks the node keeps: pin records (direct or
// recursive, persisted in a go-datastore, normally the pebble metadata
// store from OpenMeta) and the garbage collector that deletes every block
// no pin reaches.
//
// Usage:
//
//	meta, _ := pin.OpenMeta(filepath.Join(repoPath, "meta"))
//	p := pin.New(meta, pin.Options{})
//	err := p.Pin(ctx, root, true, blockService) // fetches the whole DAG first
//	res, err := pin.Collect(ctx, blockStore, p)
//
// Pin walks the DAG (dag-pb and raw blocks; identity CIDs are decoded in
// place) through the given getter, so every block is present before the pin
// is recorded; a DAG with any other codec is refused with
// ErrUnsupportedCodec. Records live under /pins/{direct,recursive}/<cid>
// and are synced on every change.
//
// GC safety: Collect takes the exclusive side of a GC lock, adders the
// shared side. Code that writes blocks and then pins them (an import, a
// `pin add` fetching from the network) must hold one pin lock across both
// steps:
//
//	ctx, release, err := p.PinLock(ctx)
//	defer release()
//	root, err := importer.Import(ctx, blockStore, file)
//	err = p.Pin(ctx, root, true, blockStore) // uses the lease in ctx
//
// Pin takes a pin lock on its own when ctx carries none, so a bare Pin is
// safe too. Blocks written without a pin lock (bitswap fetches for reads,
// say) are unprotected cache: a concurrent Collect may remove them. A
// waiting Collect holds off new pin locks, so never take a second PinLock
// while holding one; pass the leased context instead.
//
// Concurrency: all Pinner methods and Collect are safe for concurrent use;
// Collect runs one at a time per Pinner. No goroutine outlives a call.
package pin
