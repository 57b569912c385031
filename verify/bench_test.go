package verify

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	lcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// BenchmarkVerifyReceipt measures Verify (validation, peer ID derivation,
// canonical encoding, signature check) against the bare ed25519.Verify it
// wraps.
func BenchmarkVerifyReceipt(b *testing.B) {
	r := testReceipt(b)
	for i := 0; i < 16; i++ {
		r.InputCIDs = append(r.InputCIDs, testCID(b, string(rune('a'+i))))
	}
	r = signed(b, r, "a")
	msg := r.SigningBytes()
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := Verify(r); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if !ed25519.Verify(r.PublicKey, msg, r.Signature) {
			b.Fatal("baseline verify failed")
		}
		ours, base = ours+mid.Sub(start), base+time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "ns/verify")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-ed25519.Verify")
}

// BenchmarkPeerID measures PeerIDFromPublicKey against go-libp2p's
// peer.IDFromPublicKey(...).String().
func BenchmarkPeerID(b *testing.B) {
	pub := testKey("a").Public().(ed25519.PublicKey)
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		id, err := PeerIDFromPublicKey(pub)
		if err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		lpub, err := lcrypto.UnmarshalEd25519PublicKey(pub)
		if err != nil {
			b.Fatal(err)
		}
		pid, err := peer.IDFromPublicKey(lpub)
		if err != nil || pid.String() != id {
			b.Fatal("mismatch")
		}
		ours, base = ours+mid.Sub(start), base+time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "ns/id")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-go-libp2p")
}

// BenchmarkTally counts 64 votes over 3 results against building the same
// per-result groups with a plain map.
func BenchmarkTally(b *testing.B) {
	results := []cid.Cid{testCID(b, "r1"), testCID(b, "r2"), testCID(b, "r3")}
	var votes []Vote
	for i := 0; i < 64; i++ {
		votes = append(votes, Vote{Node: testPeerID(b, string(rune('A'+i))), Result: results[i%3]})
	}
	var ours, base time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := Tally(votes, 33, 0); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		groups := map[cid.Cid][]string{}
		for _, v := range votes {
			groups[v.Result] = append(groups[v.Result], v.Node)
		}
		ours, base = ours+mid.Sub(start), base+time.Since(mid)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "ns/tally")
	b.ReportMetric(float64(ours)/float64(base), "x-vs-map-grouping")
}
