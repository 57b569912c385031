package source

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipdm/ipdm/pipeline/manifest"
)

// Unit is one block (Ethereum) or slot (Solana) as a Stream delivers it,
// ready to be encoded for modules. Exactly one of Eth and Sol is set.
type Unit struct {
	Number uint64 // block number or slot
	// Hash is the chain's own hash of the block (0x-hex for Ethereum,
	// base58 for Solana); empty when the source does not carry one (Solana
	// CSV and getTransaction files): then the content ID of the encoding
	// is the only name of the unit.
	Hash string
	// ParentHash is the hash of the previous block; empty when unknown.
	ParentHash string
	// Time is the block time in Unix seconds; 0 when unknown.
	Time uint64
	Eth  *Block
	Sol  *Slot
}

// ErrIncomplete is matched by errors from Unit.Encode when the unit lacks
// data the requested encoding needs: an ethereum-block encoding of a block
// read without transactions, or any encoding of a block whose header is
// unknown (ethereum-etl logs.json without blocks.json).
var ErrIncomplete = errors.New("source: unit lacks data the encoding needs")

// Encode returns the canonical encoding of u that modules declaring a
// source input of kind receive: Block.Encode for ethereum-block,
// Block.EncodeLogs for ethereum-logs, Slot.Encode for solana-instructions.
// A kind of the other chain, or an unknown kind, is an error.
func (u Unit) Encode(kind manifest.SourceKind) ([]byte, error) {
	switch kind {
	case manifest.SourceEthereumBlock, manifest.SourceEthereumLogs:
		if u.Eth == nil {
			return nil, fmt.Errorf("source: unit %d: %s needs an Ethereum block; the unit is a Solana slot", u.Number, kind)
		}
		if u.Eth.ParentHash == "" && u.Eth.Miner == "" {
			return nil, fmt.Errorf("%w: block %d: header unknown (the source had logs only, without blocks.json); %s needs the block header", ErrIncomplete, u.Number, kind)
		}
		if kind == manifest.SourceEthereumLogs {
			return u.Eth.EncodeLogs()
		}
		if u.Eth.Transactions == nil {
			return nil, fmt.Errorf("%w: block %d: no transactions (the source provided logs only); %s needs transactions and receipts: use %s, or a source with transactions", ErrIncomplete, u.Number, kind, manifest.SourceEthereumLogs)
		}
		return u.Eth.Encode()
	case manifest.SourceSolanaInstructions:
		if u.Sol == nil {
			return nil, fmt.Errorf("source: unit %d: %s needs a Solana slot; the unit is an Ethereum block", u.Number, kind)
		}
		return u.Sol.Encode()
	}
	return nil, fmt.Errorf("source: unit %d: unknown source kind %q", u.Number, clip(string(kind)))
}

// Cursor names the last block fully handled: a resume point. Hash is the
// chain's hash of that block, or empty when the source has none.
type Cursor struct {
	Number uint64
	Hash   string
}

// CursorOf returns the cursor naming u.
func CursorOf(u Unit) Cursor { return Cursor{u.Number, u.Hash} }

// maxCursorHash bounds the hash part of a cursor (a 0x-hex hash is 66
// characters, a CID string about 60).
const maxCursorHash = 128

// String formats c as "NUMBER:HASH" ("17:" when Hash is empty), the form
// ParseCursor reads.
func (c Cursor) String() string { return strconv.FormatUint(c.Number, 10) + ":" + c.Hash }

// ParseCursor reads "NUMBER:HASH": a decimal block number without sign or
// leading zeros, a colon, and a hash of up to 128 ASCII letters and digits
// (possibly empty). Other input is an error matching ErrMalformed.
func ParseCursor(s string) (Cursor, error) {
	bad := func(field string, err error) (Cursor, error) {
		return Cursor{}, &DecodeError{Input: "cursor", Field: field, Err: err}
	}
	num, hash, ok := strings.Cut(s, ":")
	if !ok {
		return bad("", fmt.Errorf("%q is not NUMBER:HASH", clip(s)))
	}
	if !isDecimal(num) {
		return bad("number", fmt.Errorf("%q is not a non-negative integer", clip(num)))
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return bad("number", fmt.Errorf("%s exceeds 64 bits", clip(num)))
	}
	if len(hash) > maxCursorHash {
		return bad("hash", fmt.Errorf("longer than %d characters", maxCursorHash))
	}
	for i := 0; i < len(hash); i++ {
		c := hash[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return bad("hash", fmt.Errorf("%q has a character other than ASCII letters and digits", clip(hash)))
		}
	}
	return Cursor{n, hash}, nil
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventBlock delivers the next block in Event.Unit.
	EventBlock EventKind = iota + 1
	// EventUndo reports a chain reorganisation: every block after
	// Event.UndoTo.Number that was delivered is no longer canonical and
	// must be undone; the blocks that replace them follow.
	EventUndo
)

// String returns "block" or "undo".
func (k EventKind) String() string {
	switch k {
	case EventBlock:
		return "block"
	case EventUndo:
		return "undo"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is one step of a Stream.
type Event struct {
	Kind EventKind
	// Unit is the delivered block (EventBlock).
	Unit Unit
	// UndoTo is the common ancestor (EventUndo): blocks after UndoTo.Number
	// are gone.
	UndoTo Cursor
}

// Stream delivers the blocks of a source in strictly ascending order, with
// undo events when the chain reorganises.
//
// Next returns the next event; io.EOF once a finite range (or a file) is
// exhausted. An error other than the caller's context ending is final: the
// stream reports it again on every later call and should be closed. Next
// must not be called concurrently; Close may be called at any time, from
// any goroutine, any number of times: it stops the stream's goroutines and
// waits for them, and a Next in progress then returns ErrClosed.
type Stream interface {
	Next(ctx context.Context) (Event, error)
	Close() error
}

// ErrClosed is returned by Next after Close.
var ErrClosed = errors.New("source: stream closed")
