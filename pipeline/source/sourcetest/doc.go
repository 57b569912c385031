// Package sourcetest runs fake Ethereum and Solana JSON-RPC nodes over real
// HTTP servers (net/http/httptest on 127.0.0.1) for the tests of package
// pipeline/source and of everything that streams chain data through it.
//
// [NewEthereum] serves a chain of synthetic blocks whose transactions are
// ERC-20 transfer calls, each with a receipt holding one Transfer log
// (topic0 [TransferTopic], from and to topics, a 32-byte amount in data;
// some amounts exceed 2^64). Every block is a pure function of its number,
// its fork and its parent hash, so two fakes made with the same options
// serve the same bytes. [Ethereum.Extend] grows the chain; [Ethereum.Reorg]
// replaces its newest blocks with a fork whose hashes and transfers differ.
// [Ethereum.Canonical] is the oracle: the current chain as the source
// decoders deliver it, built from the same model the JSON is rendered
// from, not by decoding that JSON. A chain can start with recorded blocks
// ([EthereumOptions.Prefix]), such as the shared mainnet fixtures.
//
// [NewSolana] serves slots that carry the transactions a caller provides,
// with skipped slots, slots not available yet, reorganisations and a node
// that contradicts itself.
//
// Both embed a [Server], which counts requests and injects faults (HTTP
// 429, 500 and 403, garbage bodies, hangs), latency, JSON-RPC errors and
// rewritten results. [Replay] applies a stream's events to the chain a
// consumer would hold and checks that every undo is consistent.
//
// # Use
//
//	chain := sourcetest.NewEthereum(t, sourcetest.EthereumOptions{First: 100, Blocks: 10, TransfersPerBlock: 3})
//	s := sourcetest.Open(t, chain.URI(), sourcetest.FastOptions(source.OpenOptions{From: 100}))
//	r := sourcetest.NewReplay(t)
//	r.Until(s, func() bool { return r.Last() == chain.HeadCursor() })
//	chain.Reorg(3, 1)
//	r.Until(s, func() bool { return r.Last() == chain.HeadCursor() })
//
// # Concurrency
//
// The fakes are safe for concurrent use: the server's goroutines answer
// requests while the test extends or reorganises the chain and changes the
// fault hooks. Hooks are called from the server's goroutines and must be
// safe for that themselves. A fake's server is closed by t.Cleanup; a
// request that is hanging (FaultHang) returns when its client gives up or
// after two seconds. Functions that report failures through testing.TB
// (NewEthereum, NewSolana, the Replay methods, Open, ReadAll) must be
// called from the test's goroutine.
package sourcetest
