package service

import (
	"crypto/ed25519"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/verify"
)

// FuzzDecodeMessages feeds arbitrary bytes to every wire message decoder:
// each returns a checked message or an error, never panics, and what it
// accepts re-encodes to something it accepts again.
func FuzzDecodeMessages(f *testing.F) {
	mod, _ := cid.Decode("bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4")
	sp, err := spec.Decode([]byte("apiVersion: ipdm/v1\nkind: Job\nmodule: " + mod.String() + "\n"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encode(bidRequest{JobID: "job-1", Spec: sp, Module: mod}))
	f.Add(encode(assignRequest{JobID: "job-1", Spec: sp, Module: mod, Slot: 1, Attempt: 1}))
	f.Add(encode(commitMessage{JobID: "job-1", Commitment: []byte{1, 2, 3}}))
	_, key, _ := ed25519.GenerateKey(nil)
	receipt, err := verify.Sign(verify.Receipt{JobID: "job-1", ModuleCID: mod, ResultCID: mod}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encode(commitMessage{JobID: "job-1", Commitment: []byte{1, 2, 3}, Reveal: &revealResponse{Result: mod, Salt: []byte{4}, Receipt: &receipt}}))
	f.Add(encode(commitMessage{JobID: "job-1", Failure: "boom", JobError: true}))
	f.Add(encode(revealRequest{JobID: "job-1"}))
	f.Add(encode(stopRequest{JobID: "job-1", Reason: "cancel"}))
	f.Add(encode(bidResponse{Decline: "busy", Busy: true}))
	f.Add(encode(assignResponse{Accepted: true}))
	f.Add(encode(assignResponse{Decline: "busy"}))
	f.Add(encode(outputRequest{JobID: "job-1", Stdout: 12, Stderr: 0}))
	f.Add(encode(outputResponse{Stdout: OutputChunk{From: 3, Data: []byte("hello\n")}, Stderr: OutputChunk{From: 0}, Ended: true}))
	f.Add([]byte(`{"job_id":"job-1","stdout":-1,"stderr":0}`))
	f.Add([]byte(`{"stdout":{"from":-5},"stderr":{"from":0}}`))
	f.Add([]byte(`{"job_id":""}`))
	f.Add([]byte(`{"bid":{},"decline":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, (*bidRequest).check)
		roundTrip(t, data, (*assignRequest).check)
		roundTrip(t, data, (*commitMessage).check)
		roundTrip(t, data, (*revealRequest).check)
		roundTrip(t, data, (*revealResponse).check)
		roundTrip(t, data, (*stopRequest).check)
		roundTrip(t, data, (*bidResponse).check)
		roundTrip(t, data, (*assignResponse).check)
		roundTrip(t, data, (*outputRequest).check)
		roundTrip(t, data, (*outputResponse).check)
	})
}

func roundTrip[T any](t *testing.T, data []byte, check func(*T) error) {
	v, err := decode(data, check)
	if err != nil {
		return
	}
	if _, err := decode(encode(v), check); err != nil {
		t.Fatalf("%T accepted %q but not its re-encoding: %v", v, data, err)
	}
}
