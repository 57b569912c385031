// Package store owns the key/value state of pipeline store modules and its
// merge rules: the update policies of the manifest (set, set_if_absent, add,
// min, max, append) over its value types (bigint, int64, string, bytes).
//
// A store module only writes. The engine records each block's writes as
// [Op]s; applying them to a [State] in order is the linear run:
//
//	st, _ := store.New(manifest.PolicyAdd, manifest.ValueBigInt)
//	deltas, err := st.ApplyBlock(ops) // one Delta (key, value after) per op
//
// Segments run in parallel instead: each reduces its writes to a [Partial]
// ([Reduce] or [Partial.Apply]), and the snapshot at each segment boundary
// is the previous one with the segment's partial merged in:
//
//	next := snapshot.Clone()
//	err := next.Merge(partial) // snapshot(k+1) = Merge(snapshot(k), partial(k))
//
// Merging partials in segment order gives exactly the state, and the
// errors, of the linear run, for every policy: set keeps a run's last
// write, set_if_absent its first (and a merge keeps the base's value), add
// sums exactly, min and max compare numerically, append concatenates in
// write order. An int64 add partial also carries the range its running sums
// reach, so a merge fails with ErrOverflow exactly when one of the writes,
// applied one by one, would have.
//
// Values travel as bytes, as the module ABI writes them: numbers are
// canonical decimal ASCII ("-12", never "+12", "012" or "-0"), so equal
// numbers are equal bytes; [CheckValue] enforces each value type.
//
// [State.Encode] is canonical (sorted keys, a versioned header naming the
// policy and value type): equal states give equal bytes and so equal CIDs.
// [Decode] accepts exactly what Encode writes. [EncodeOps] and [DecodeOps]
// do the same for a segment's op log ([BlockOps] per block). [State.Len],
// [State.Size], [State.Keys] and [State.All] let the engine report, cap and
// list a store.
//
// The package is pure: no I/O, no goroutines. A State or Partial is not
// safe for concurrent use; distinct ones are independent (Clone shares no
// mutable memory).
package store
