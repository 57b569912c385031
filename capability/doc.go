// Package capability describes what an IPDM peer offers to the network and
// keeps a live index of the peers heard from.
//
// A peer periodically broadcasts an [Advert]: its peer ID, the roles it plays
// (processing, storage, gateway), its resources (cores, memory, free disk),
// its software version, its listen addresses and a sequence number. The
// package owns the wire format of adverts ([Advert.Encode], [Decode]) and the
// [Index] that remembers the latest advert of every peer until it expires.
//
// The package is pure: it does no I/O, starts no goroutines and never reads
// the clock. Callers pass the current time to the [Index] explicitly, which
// keeps expiry deterministic in tests. Transport (gossipsub in package p2p)
// and authentication of the sender are the caller's job: Decode only checks
// that an advert is well formed, not that it came from Advert.PeerID.
//
// # Wire format
//
// An encoded advert is a single JSON object of at most [MaxEncodedSize]
// bytes carrying a format version "v" (currently [FormatVersion]). Decoding
// is strict: unknown fields, unknown format versions, unknown or duplicate
// roles, negative or over-large numbers, malformed peer IDs or multiaddrs and
// trailing bytes are all rejected with an error wrapping [ErrInvalidAdvert]
// (or [ErrUnsupportedVersion] for a version this build cannot read).
//
// # Concurrency
//
// [Advert] values are plain data. [Index] is safe for concurrent use by
// multiple goroutines.
package capability
