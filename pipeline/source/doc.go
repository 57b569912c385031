// Package source decodes the chain data that pipelines index into the typed,
// canonical values handed to modules.
//
// Ethereum: [DecodeRPCBlock] reads raw JSON-RPC responses (an
// eth_getBlockByNumber response with full transactions plus one
// eth_getTransactionReceipt response per transaction); [DecodeETL] reads
// ethereum-etl JSON lines (blocks.json, transactions.json, logs.json) and
// groups transactions and logs under their blocks. Both produce the same
// [Block] for the same chain block, so its canonical encoding and content ID
// do not depend on where the data came from.
//
// Solana: [DecodeInstructionsCSV] reads solana-etl instruction exports;
// [DecodeSolanaTransactions] reads getTransaction responses (jsonParsed
// encoding) into the same [Instruction] rows solana-etl exports, including
// its decoding of Serum DEX v3 instructions ([DecodeProgram]). A [Slot] groups
// a slot's instructions.
//
// What modules receive: [Block.Encode] (source kind ethereum-block),
// [Block.EncodeLogs] (ethereum-logs) and [Slot.Encode]
// (solana-instructions) are versioned canonical JSON encodings — fixed field
// order, lowercase hex, integers that can exceed 2^53 as decimal strings, no
// floats, no insignificant whitespace. [DecodeBlock] and [DecodeSlot] read
// them back. The block hash used for proof-of-processing is
// [Block.ContentID] / [Slot.ContentID]: the CIDv1 (JSON codec, SHA-256) of
// exactly the bytes the module was given. The chain's own block hash names
// the block; the content ID commits to what was processed.
//
// Numbers are exact: quantities that always fit in 64 bits are uint64, token
// amounts and wei values are *big.Int, and JSON numbers are read with
// json.Number, never through float64.
//
// Streams: [Open] turns a source URI into a [Stream] of [Event]s — each
// [Unit] (a block or slot with its chain hash, parent hash and time, ready
// for [Unit.Encode]) in strictly ascending order, and undo events when the
// chain reorganises. "file:PATH" reads the formats above from disk;
// "ethereum-rpc:URL" and "solana-rpc:URL" poll a JSON-RPC node
// ([DecodeRPCBlockReceipts], [DecodeRPCBlockLogs] and [DecodeSolanaBlock]
// decode what they fetch), backfilling with bounded concurrency, then
// following the head. Both RPC sources share one poller over a small chain
// interface: retries with exponential backoff and jitter, a token-bucket
// rate limit, reorganisation detection by parent hash and walk-back to the
// common ancestor, resume from a [Cursor].
//
// Malformed input yields an error matching [ErrMalformed], usually a
// *[DecodeError] naming the input, line, block number or slot, and field;
// decoders never panic on input. JSON-RPC failures are *[RPCError] or
// *[HTTPError]; requests still failing after the retries match
// [ErrUnavailable].
//
// Concurrency: the decoders are pure — no I/O beyond the readers they are
// given, no goroutines, no clock — and values are plain data. A Stream is
// used by one goroutine at a time; an RPC stream owns the goroutines that
// fetch blocks ahead, and Close (callable from any goroutine, idempotent)
// stops them and waits.
package source
