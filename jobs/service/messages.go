package service

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/jobs/state"
	"github.com/ipdm/ipdm/verify"
)

// Protocols: one acknowledged request/response exchange each.
const (
	protoBid     = "/ipdm/jobs/bid/1.0.0"    // coordinator → executor: will you run it?
	protoAssign  = "/ipdm/jobs/assign/1.0.0" // coordinator → executor: run it
	protoCommit  = "/ipdm/jobs/commit/1.0.0" // executor → coordinator: salted result hash, or failure
	protoReveal  = "/ipdm/jobs/reveal/1.0.0" // coordinator → executor: open your commitment
	protoStop    = "/ipdm/jobs/stop/1.0.0"   // coordinator → executor: stop running it
	protoOutput  = "/ipdm/jobs/output/1.0.0" // coordinator → executor: live output from an offset
	maxWireBytes = 1 << 20
)

// ErrMalformed is wrapped by every decoding failure of a wire message.
var ErrMalformed = errors.New("jobs: malformed message")

// bidRequest asks an executor for a bid.
type bidRequest struct {
	JobID  string    `json:"job_id"`
	Spec   spec.Spec `json:"spec"`
	Module cid.Cid   `json:"module"`
}

// bidResponse is a bid, or a decline with its reason; Busy marks a
// decline for now only (the node is full), not for the job.
type bidResponse struct {
	Bid     *state.Candidate `json:"bid,omitempty"`
	Decline string           `json:"decline,omitempty"`
	Busy    bool             `json:"busy,omitempty"`
}

// assignRequest hands an execution to an executor.
type assignRequest struct {
	JobID    string    `json:"job_id"`
	Spec     spec.Spec `json:"spec"`
	Module   cid.Cid   `json:"module"`
	Slot     int       `json:"slot"`
	Attempt  int       `json:"attempt"`
	Deadline time.Time `json:"deadline"`
}

// assignResponse accepts an assignment (the execution runs or waits for a
// slot) or declines it, with the reason.
type assignResponse struct {
	Accepted bool   `json:"accepted,omitempty"`
	Decline  string `json:"decline,omitempty"`
	// Busy marks a decline because every slot and queue place is taken:
	// the node may be assigned the job again later.
	Busy bool `json:"busy,omitempty"`
}

// commitMessage reports the end of an execution: a commitment to its
// result, or why it failed. A commitment carries its opening too: the
// coordinator holds it back until it asks for reveals, which saves a round
// trip per execution without letting any executor see another's result
// before committing (only the coordinator, which judges them, gets them).
type commitMessage struct {
	JobID      string          `json:"job_id"`
	Commitment []byte          `json:"commitment,omitempty"`
	Reveal     *revealResponse `json:"reveal,omitempty"`
	Failure    string          `json:"failure,omitempty"`
	JobError   bool            `json:"job_error,omitempty"`
}

// revealRequest asks an executor to open its commitment.
type revealRequest struct {
	JobID string `json:"job_id"`
}

// revealResponse opens a commitment.
type revealResponse struct {
	Result  cid.Cid         `json:"result"`
	Salt    []byte          `json:"salt"`
	Receipt *verify.Receipt `json:"receipt"`
}

// stopRequest ends an execution.
type stopRequest struct {
	JobID  string `json:"job_id"`
	Reason string `json:"reason"`
}

// outputRequest asks an executor for an execution's live output from
// byte offsets of its stdout and stderr.
type outputRequest struct {
	JobID  string `json:"job_id"`
	Stdout int64  `json:"stdout"`
	Stderr int64  `json:"stderr"`
}

// outputResponse is the live output from the offsets asked for.
type outputResponse LiveOutput

func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("jobs: encode %T: %v", v, err)) // only our own types reach here
	}
	return b
}

// decode parses a wire message strictly: size limit, no unknown fields, no
// trailing data, and the message's own checks.
func decode[T any](data []byte, check func(*T) error) (T, error) {
	var v T
	if len(data) > maxWireBytes {
		return v, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if dec.More() {
		return v, fmt.Errorf("%w: trailing data", ErrMalformed)
	}
	if check != nil {
		if err := check(&v); err != nil {
			return v, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return v, nil
}

func checkJobID(id string) error {
	if id == "" || len(id) > verify.MaxJobIDLen {
		return fmt.Errorf("job id %q", id)
	}
	return nil
}

func checkSpecModule(id string, s spec.Spec, m cid.Cid) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	if !m.Defined() {
		return errors.New("no module CID")
	}
	return s.WithDefaults().Validate()
}

func (r *bidRequest) check() error    { return checkSpecModule(r.JobID, r.Spec, r.Module) }
func (r *assignRequest) check() error { return checkSpecModule(r.JobID, r.Spec, r.Module) }
func (r *commitMessage) check() error {
	if err := checkJobID(r.JobID); err != nil {
		return err
	}
	if (len(r.Commitment) == 0) == (r.Failure == "") {
		return errors.New("want a commitment or a failure")
	}
	if r.Reveal != nil {
		if len(r.Commitment) == 0 {
			return errors.New("a reveal without a commitment")
		}
		return r.Reveal.check()
	}
	return nil
}
func (r *revealRequest) check() error { return checkJobID(r.JobID) }
func (r *stopRequest) check() error   { return checkJobID(r.JobID) }
func (r *outputRequest) check() error {
	if r.Stdout < 0 || r.Stderr < 0 || r.Stdout > maxStreamOffset || r.Stderr > maxStreamOffset {
		return fmt.Errorf("offsets %d, %d out of range", r.Stdout, r.Stderr)
	}
	return checkJobID(r.JobID)
}
func (r *outputResponse) check() error {
	for _, c := range []OutputChunk{r.Stdout, r.Stderr} {
		if c.From < 0 || c.From > maxStreamOffset || len(c.Data) > maxOutputChunk {
			return fmt.Errorf("output chunk at %d of %d bytes out of range", c.From, len(c.Data))
		}
	}
	return nil
}
func (r *revealResponse) check() error {
	if !r.Result.Defined() || r.Receipt == nil {
		return errors.New("want a result and a receipt")
	}
	return nil
}
func (r *assignResponse) check() error {
	if r.Accepted == (r.Decline != "") {
		return errors.New("want an acceptance or a decline")
	}
	return nil
}
func (r *bidResponse) check() error {
	if (r.Bid == nil) == (r.Decline == "") {
		return errors.New("want a bid or a decline")
	}
	if r.Busy && r.Decline == "" {
		return errors.New("busy without a decline")
	}
	return nil
}
