//go:build !wasip1

package guest

import (
	"fmt"

	"github.com/ipdm/ipdm/pipeline/abi"
)

// Host receives what module code sends to the host when it runs natively.
type Host interface {
	// Output receives one output record.
	Output(rec []byte)
	// StoreWrite receives one store write.
	StoreWrite(key, value []byte)
	// StoreGet reads key from the store that is input number input.
	StoreGet(input int, key []byte) ([]byte, bool)
	// Log receives one debug line.
	Log(msg string)
}

// InputSource is implemented by a Host that can also serve Read, so that
// the body of an entrypoint runs natively unchanged.
type InputSource interface {
	// Input returns the framed input of the current call.
	Input() []byte
}

var host Host

// SetHost sets the Host the functions of this package talk to; nil unsets
// it.
func SetHost(h Host) { host = h }

func current() Host {
	if host == nil {
		panic("guest: no Host set: call guest.SetHost in native tests")
	}
	return host
}

// Read returns the current input from the Host, which must implement
// InputSource; n must be its length. Malformed framing panics.
func Read(n int32) abi.Input {
	src, ok := current().(InputSource)
	if !ok {
		panic("guest: Read needs a Host that implements InputSource; pass abi.Input to the module logic instead")
	}
	b := src.Input()
	if int(n) != len(b) {
		panic(fmt.Sprintf("guest: read input: length %d, host has %d bytes", n, len(b)))
	}
	in, err := abi.DecodeInput(b)
	if err != nil {
		panic("guest: read input: " + err.Error())
	}
	return in
}

// Output emits one output record.
func Output(rec []byte) { current().Output(rec) }

// StoreWrite emits one write to the module's store.
func StoreWrite(key, value []byte) { current().StoreWrite(key, value) }

// StoreWriteString is StoreWrite with strings.
func StoreWriteString(key, value string) { current().StoreWrite([]byte(key), []byte(value)) }

// StoreGet reads key from the store that is the module's input number input.
func StoreGet(input int, key []byte) ([]byte, bool) { return current().StoreGet(input, key) }

// Log sends one debug line to the Host.
func Log(msg string) { current().Log(msg) }

// Panic panics with msg (in a Wasm guest the host reports msg as the trap).
func Panic(msg string) { panic(msg) }
