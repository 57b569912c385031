// Package verify owns the cryptographic and bookkeeping logic that lets a
// coordinator trust the result of a job run by untrusted executors:
//
//   - Commit–reveal ([Commit], [CheckReveal], [NewSalt]). Each executor
//     first publishes a commitment, SHA-256 over a domain-separated encoding
//     of (job ID, node ID, result CID, salt), and reveals result and salt
//     only once every executor has committed, so that no executor can copy
//     another's answer.
//   - Quorum ([Tally]). Given the revealed results and the number still
//     pending, decide as early as possible whether a result has a quorum,
//     which nodes agree and which dissent, or that no quorum is possible.
//   - Receipts ([Receipt], [Sign], [Verify], [DecodeReceipt]). Every
//     executor signs what it ran and what came out with its libp2p Ed25519
//     identity key. The signature covers a canonical binary encoding
//     ([Receipt.SigningBytes]); the JSON form is only transport. Peer IDs
//     are derived from public keys in pure Go ([PeerIDFromPublicKey],
//     [PublicKeyFromPeerID]) and match go-libp2p's.
//   - Reputation ([Scorer]). Decayed counts of agreements, disagreements
//     and failures per node give a score in (0, 1) used to rank executors;
//     repeated liars are quarantined for growing periods. The state
//     persists as JSON.
//
// Everything here is pure: no I/O except reading randomness in NewSalt, no
// goroutines, and the clock is always passed in. Values are plain data; a
// [Scorer] is safe for concurrent use.
package verify
