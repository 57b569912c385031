package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ipdm/ipdm/verify"
)

// DecodeJob parses a job persisted with json.Marshal and checks its
// invariants, so that a corrupt file is reported instead of misbehaving.
// Unknown fields are rejected. Errors wrap ErrInvalidJob.
func DecodeJob(b []byte) (Job, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j Job
	if err := dec.Decode(&j); err != nil {
		return Job{}, fmt.Errorf("state: decode job: %w: %w", ErrInvalidJob, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Job{}, fmt.Errorf("state: decode job: %w: trailing data", ErrInvalidJob)
	}
	if err := j.check(); err != nil {
		return Job{}, fmt.Errorf("state: decode job: %w", err)
	}
	return j, nil
}

// check verifies the invariants Step relies on.
func (j Job) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("state: job %q: %w: %s", j.ID, ErrInvalidJob, fmt.Sprintf(format, args...))
	}
	if j.ID == "" {
		return bad("no ID")
	}
	if !j.Phase.valid() {
		return bad("unknown phase %q", j.Phase)
	}
	if err := j.Spec.Validate(); err != nil {
		return bad("spec: %v", err)
	}
	if j.Spec.Replicas < 1 || j.Spec.Quorum < 1 || j.Spec.Quorum > j.Spec.Replicas {
		return bad("spec without replicas and quorum filled in")
	}
	if j.Policy != j.Policy.WithDefaults() {
		return bad("policy without defaults filled in")
	}
	if !j.Module.Defined() {
		return bad("no module CID")
	}
	if len(j.Slots) != j.Spec.Replicas {
		return bad("%d slots for %d replicas", len(j.Slots), j.Spec.Replicas)
	}
	nodes := make(map[string]bool, len(j.Executions)) // nodes that may not execute again
	for i, x := range j.Executions {
		switch {
		case x.Node == "":
			return bad("execution %d has no node", i)
		case nodes[x.Node]:
			return bad("node %s has two executions (only a busy decline may precede another)", x.Node)
		case x.Slot < 0 || x.Slot >= len(j.Slots):
			return bad("execution %d in slot %d of %d", i, x.Slot, len(j.Slots))
		case !x.State.valid():
			return bad("execution %d in unknown state %q", i, x.State)
		case x.State.Live() && j.Slots[x.Slot].Exec != i:
			return bad("live execution %d is not its slot's", i)
		case x.Attempt < 1:
			return bad("execution %d has attempt %d", i, x.Attempt)
		case (x.State == ExecRevealed || x.State == ExecAccepted) && (!x.Result.Defined() || x.Receipt == nil):
			return bad("revealed execution %d has no result or receipt", i)
		}
		if x.Busy && x.State != ExecDeclined {
			return bad("execution %d is marked busy but %s", i, x.State)
		}
		nodes[x.Node] = !x.Busy
	}
	for i, s := range j.Slots {
		if s.Exec < -1 || s.Exec >= len(j.Executions) {
			return bad("slot %d points at execution %d of %d", i, s.Exec, len(j.Executions))
		}
		if s.Exec >= 0 && (j.Executions[s.Exec].Slot != i || !j.Executions[s.Exec].State.Live()) {
			return bad("slot %d points at execution %d, which is not a live execution of it", i, s.Exec)
		}
		if s.Attempts < 0 {
			return bad("slot %d has %d attempts", i, s.Attempts)
		}
	}
	if j.Phase == Completed && !j.Result.Defined() {
		return bad("completed without a result")
	}
	if len(j.Bids) > j.Policy.MaxBids {
		return bad("%d bids exceed the limit of %d", len(j.Bids), j.Policy.MaxBids)
	}
	if len(j.Providers) > j.Policy.MaxBids {
		return bad("%d providers exceed the limit of %d", len(j.Providers), j.Policy.MaxBids)
	}
	for node, cids := range j.Providers {
		if node == "" || len(node) > verify.MaxPeerIDLen || len(cids) == 0 || len(cids) > len(j.Spec.Inputs) {
			return bad("malformed provider entry %q", node)
		}
		for _, c := range cids {
			if !c.Defined() {
				return bad("provider %s with an undefined CID", node)
			}
		}
	}
	return nil
}
