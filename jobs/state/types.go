package state

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipfs/go-cid"
)

// Phase is the lifecycle state of a job.
type Phase string

// Job phases. A job moves queued → bidding → running → verifying and ends
// completed, failed or cancelled.
const (
	// Queued: accepted by the coordinator, not yet looking for executors.
	Queued Phase = "queued"
	// Bidding: looking for executors; some may already be running.
	Bidding Phase = "bidding"
	// Running: every replica slot has had an executor; waiting for
	// commitments (replacing executors that fail).
	Running Phase = "running"
	// Verifying: every live slot has committed; reveals requested.
	Verifying Phase = "verifying"
	// Completed: a result was accepted (late reveals are still judged).
	Completed Phase = "completed"
	// Failed: no result; Job.Reason says why.
	Failed Phase = "failed"
	// Cancelled: stopped by a Cancel event.
	Cancelled Phase = "cancelled"
)

// Terminal reports whether p is completed, failed or cancelled.
func (p Phase) Terminal() bool { return p == Completed || p == Failed || p == Cancelled }

func (p Phase) valid() bool {
	switch p {
	case Queued, Bidding, Running, Verifying, Completed, Failed, Cancelled:
		return true
	}
	return false
}

// ExecState is the state of one execution: one node running one replica.
type ExecState string

// Execution states.
const (
	// ExecAssigned: the coordinator asked the node to run the job.
	ExecAssigned ExecState = "assigned"
	// ExecRunning: the node acknowledged and is running the job.
	ExecRunning ExecState = "running"
	// ExecCommitted: the node committed to a result.
	ExecCommitted ExecState = "committed"
	// ExecRevealed: the node revealed a result matching its commitment with
	// a valid receipt; not yet judged.
	ExecRevealed ExecState = "revealed"
	// ExecAccepted: the node's result is the accepted one.
	ExecAccepted ExecState = "accepted"
	// ExecRejected: the node's result differs from the accepted one, or its
	// reveal or receipt was invalid.
	ExecRejected ExecState = "rejected"
	// ExecFailed: the node reported a node error or a job error.
	ExecFailed ExecState = "failed"
	// ExecDeclined: the node declined the assignment.
	ExecDeclined ExecState = "declined"
	// ExecTimedOut: the node missed its commit or reveal deadline.
	ExecTimedOut ExecState = "timed-out"
	// ExecCancelled: the job ended before the execution did.
	ExecCancelled ExecState = "cancelled"
)

// Active reports whether the node is still computing (assigned or running).
func (s ExecState) Active() bool { return s == ExecAssigned || s == ExecRunning }

// Live reports whether the execution still holds its slot: active,
// committed, revealed or accepted.
func (s ExecState) Live() bool {
	switch s {
	case ExecAssigned, ExecRunning, ExecCommitted, ExecRevealed, ExecAccepted:
		return true
	}
	return false
}

func (s ExecState) valid() bool {
	switch s {
	case ExecAssigned, ExecRunning, ExecCommitted, ExecRevealed, ExecAccepted, ExecRejected,
		ExecFailed, ExecDeclined, ExecTimedOut, ExecCancelled:
		return true
	}
	return false
}

// Policy tunes scheduling. The zero value gives the defaults documented on
// each field. Job timeouts come from the spec, not from here.
type Policy struct {
	// BidWindow is how long a bid round collects bids before the best are
	// assigned (default 2s).
	BidWindow time.Duration `json:"bid_window"`
	// BidRetry is the delay before a new bid round after a round that left
	// slots unfilled; it doubles with every such round up to BidRetryMax
	// (defaults 1s and 30s).
	BidRetry    time.Duration `json:"bid_retry"`
	BidRetryMax time.Duration `json:"bid_retry_max"`
	// BusyRetry replaces BidRetry after a round in which a node declined
	// only because its slots and queue were full: it will have room as
	// soon as an execution ends, so the job asks again soon; it doubles up
	// to BusyRetryMax (defaults 50ms and 500ms).
	BusyRetry    time.Duration `json:"busy_retry,omitempty"`
	BusyRetryMax time.Duration `json:"busy_retry_max,omitempty"`
	// MaxAttempts is the number of node errors a replica slot tolerates
	// before it is given up (default 3). Job errors are never retried.
	MaxAttempts int `json:"max_attempts"`
	// Backoff is the delay before reassigning a slot after its first node
	// error; it doubles with every further error up to BackoffMax (defaults
	// 1s and 1m).
	Backoff    time.Duration `json:"backoff"`
	BackoffMax time.Duration `json:"backoff_max"`
	// RevealTimeout bounds the reveal phase (default 30s).
	RevealTimeout time.Duration `json:"reveal_timeout"`
	// ProviderTimeout bounds the wait for the DHT provider records of a
	// job's inputs (FindProviders) before the first bid round may close
	// (default 1.5s). Jobs without inputs never wait.
	ProviderTimeout time.Duration `json:"provider_timeout,omitempty"`
	// MaxHistory bounds Job.History; older entries are dropped and counted
	// in Job.HistoryDropped (default 1000).
	MaxHistory int `json:"max_history"`
	// MaxBids bounds Job.Bids; when full, the lowest-ranked bid is dropped
	// (default 64).
	MaxBids int `json:"max_bids"`
}

// WithDefaults returns p with every zero or negative field set to its
// default.
func (p Policy) WithDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.BidWindow, 2*time.Second)
	def(&p.BidRetry, time.Second)
	def(&p.BidRetryMax, 30*time.Second)
	def(&p.BusyRetry, 50*time.Millisecond)
	def(&p.BusyRetryMax, 500*time.Millisecond)
	def(&p.Backoff, time.Second)
	def(&p.BackoffMax, time.Minute)
	def(&p.RevealTimeout, 30*time.Second)
	def(&p.ProviderTimeout, 1500*time.Millisecond)
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 3
	}
	if p.MaxHistory <= 0 {
		p.MaxHistory = 1000
	}
	if p.MaxBids <= 0 {
		p.MaxBids = 64
	}
	return p
}

// doubling returns base·2^(n-1) for n ≥ 1, capped at max.
func doubling(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		if d > max/2 {
			return max
		}
		d *= 2
	}
	return min(d, max)
}

// Slot is one of the job's K replica slots. Each slot is filled by one
// execution at a time; a slot whose executor fails with a node error is
// filled again by another node after a backoff.
type Slot struct {
	// Exec indexes Job.Executions: the slot's current execution, or -1.
	Exec int `json:"exec"`
	// Attempts counts the slot's executions that ended in node errors.
	Attempts int `json:"attempts"`
	// NotBefore is the earliest time the slot may be assigned again.
	NotBefore time.Time `json:"not_before,omitzero"`
	// Dead is set when the slot was given up: a job error, or MaxAttempts
	// node errors. Reason says which.
	Dead   bool   `json:"dead,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Execution is one node running one replica of the job.
type Execution struct {
	Node    string    `json:"node"`
	Slot    int       `json:"slot"`
	Attempt int       `json:"attempt"` // 1 + node errors of the slot before it
	State   ExecState `json:"state"`
	// Reason explains the state, for failed, declined, timed-out, rejected
	// and cancelled executions.
	Reason string `json:"reason,omitempty"`
	// JobError is set when the node failed with a job error (trap, exit
	// code, out of fuel): a deterministic outcome that is not retried.
	JobError bool `json:"job_error,omitempty"`
	// Busy is set on an assignment the node declined only because it was
	// full: unlike other declines, the node may be asked again.
	Busy       bool      `json:"busy,omitempty"`
	AssignedAt time.Time `json:"assigned_at"`
	// Deadline is when the node must have committed.
	Deadline   time.Time       `json:"deadline"`
	UpdatedAt  time.Time       `json:"updated_at"`
	Commitment []byte          `json:"commitment,omitempty"`
	Result     cid.Cid         `json:"result"`
	Salt       []byte          `json:"salt,omitempty"`
	Receipt    *verify.Receipt `json:"receipt,omitempty"`
}

// Entry is one line of a job's history.
type Entry struct {
	At time.Time `json:"at"`
	// Kind names the event ("submitted", "bid", "declined", "assigned",
	// "executor-failed", "committed", "revealed", "timeout", "cancel") or
	// the decision ("ask-bids", "assign", "reassign", "timed-out",
	// "request-reveal", "verdict", "accept", "fail", "slot-given-up").
	Kind   string `json:"kind"`
	Node   string `json:"node,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Job is the whole state of one job, as plain data that marshals to JSON so
// that a coordinator can persist it and resume. Change it only with Step.
type Job struct {
	ID     string    `json:"id"`
	Spec   spec.Spec `json:"spec"`   // with defaults filled
	Module cid.Cid   `json:"module"` // the module CID executors run
	Policy Policy    `json:"policy"` // with defaults filled

	Phase  Phase  `json:"phase"`
	Reason string `json:"reason,omitempty"` // why the job failed or was cancelled

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// QueueDeadline bounds the bidding phase; Deadline the whole job.
	QueueDeadline time.Time `json:"queue_deadline"`
	Deadline      time.Time `json:"deadline"`
	// RevealDeadline bounds the reveal phase (zero before it).
	RevealDeadline time.Time `json:"reveal_deadline,omitzero"`

	// Providers maps the nodes that DHT provider records name for the
	// job's inputs to those inputs (nil until the lookup answered; empty
	// when it found nobody). ProvidersBy is when a pending lookup is given
	// up (zero when none is pending). Ranking counts a node as holding an
	// input when its bid says so or a provider record does.
	Providers   map[string][]cid.Cid `json:"providers,omitempty"`
	ProvidersBy time.Time            `json:"providers_by,omitzero"`
	// Bids holds the eligible bids of nodes not yet used, one per node.
	Bids []Candidate `json:"bids,omitempty"`
	// Declined lists nodes that declined the job; they are not asked again.
	Declined []string `json:"declined,omitempty"`
	// BidRound counts bid rounds; BidClose is when the open round closes
	// (zero when none is open); NextBids is when the next round may start
	// (zero when none is scheduled); EmptyRounds counts consecutive rounds
	// that left slots unfilled.
	BidRound int       `json:"bid_round"`
	BidClose time.Time `json:"bid_close,omitzero"`
	// BidsIn is the round whose asked nodes have all answered while it
	// stayed open waiting for provider records.
	BidsIn      int       `json:"bids_in,omitempty"`
	NextBids    time.Time `json:"next_bids,omitzero"`
	EmptyRounds int       `json:"empty_rounds,omitempty"`
	// BusyRound is set when a node declined in the current round (or an
	// assignment since it opened) only because it was busy.
	BusyRound bool `json:"busy_round,omitempty"`

	Slots      []Slot      `json:"slots"`
	Executions []Execution `json:"executions,omitempty"`

	// Result is the accepted result (Completed only). Agreeing lists the
	// nodes that revealed it; Dissenting those that revealed another
	// result, revealed invalidly or claimed a job error. Both are sorted and
	// grow with late reveals.
	Result     cid.Cid  `json:"result"`
	Agreeing   []string `json:"agreeing,omitempty"`
	Dissenting []string `json:"dissenting,omitempty"`

	History        []Entry `json:"history"`
	HistoryDropped int     `json:"history_dropped,omitempty"`
}

// Errors returned by New, Step and DecodeJob.
var (
	// ErrInvalidJob reports invalid parameters to New or a malformed job
	// given to DecodeJob or Step.
	ErrInvalidJob = errors.New("invalid job")
	// ErrUnexpectedEvent reports an event that does not apply to the job in
	// its current state (a stray, duplicate or late message). The job is
	// unchanged.
	ErrUnexpectedEvent = errors.New("unexpected event")
)

func unexpected(j *Job, ev Event, format string, args ...any) error {
	return fmt.Errorf("state: job %s (%s): %s: %w: %s", j.ID, j.Phase, ev.eventName(), ErrUnexpectedEvent, fmt.Sprintf(format, args...))
}
