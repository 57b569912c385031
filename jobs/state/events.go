package state

import (
	"time"

	"github.com/ipdm/ipdm/verify"
	"github.com/ipfs/go-cid"
)

// Event is something that happened to a job: one of Submitted,
// BidReceived, Declined, Assigned, ExecutorFailed, Committed, Revealed,
// ProvidersFound, Timeout, BidsComplete and Cancel.
type Event interface{ eventName() string }

// Submitted starts a queued job: the coordinator is ready to look for
// executors.
type Submitted struct{}

// BidReceived carries a node's offer to execute the job.
type BidReceived struct{ Bid Candidate }

// Declined reports that a node will not execute the job: in answer to a bid
// request, or to an assignment. Busy marks a bid request declined only
// because the node is full right now: it may be asked again in a later
// round. Other declines are final for the job.
type Declined struct {
	Node   string
	Reason string
	Busy   bool
}

// Assigned reports that a node acknowledged its assignment and started.
type Assigned struct{ Node string }

// ExecutorFailed reports that an execution ended without a result.
// IsJobError distinguishes a job error (trap, non-zero exit, out of fuel: a
// deterministic outcome of the job itself, not retried) from a node error
// (crash, unreachable, sandbox failure: retried on another node).
type ExecutorFailed struct {
	Node       string
	Reason     string
	IsJobError bool
}

// Committed carries a node's commitment to its result (verify.Commit).
type Committed struct {
	Node       string
	Commitment []byte
}

// Revealed carries a node's reveal: its result, the salt of its commitment
// and its signed receipt.
type Revealed struct {
	Node    string
	Result  cid.Cid
	Salt    []byte
	Receipt *verify.Receipt
}

// Timeout tells the job that time has passed. Deliver it at Job.Wake();
// delivering it at other times is harmless.
type Timeout struct{}

// BidsComplete says every node asked in a bid round has answered (bid or
// decline), so the round can close before its window ends. It is ignored
// for any round but the open one.
type BidsComplete struct{ Round int }

// Cancel stops the job.
type Cancel struct{ Reason string }

// ProvidersFound answers FindProviders: for each node that a DHT provider
// record names as holding some of the job's inputs, which inputs. Nodes
// not listed provide none; an empty map means the lookup found nobody (or
// failed).
type ProvidersFound struct{ Providers map[string][]cid.Cid }

func (Submitted) eventName() string      { return "submitted" }
func (BidReceived) eventName() string    { return "bid" }
func (Declined) eventName() string       { return "declined" }
func (Assigned) eventName() string       { return "assigned" }
func (ExecutorFailed) eventName() string { return "executor-failed" }
func (Committed) eventName() string      { return "committed" }
func (Revealed) eventName() string       { return "revealed" }
func (Timeout) eventName() string        { return "timeout" }
func (BidsComplete) eventName() string   { return "bids-complete" }
func (Cancel) eventName() string         { return "cancel" }
func (ProvidersFound) eventName() string { return "providers" }

// Action is something the coordinator must do after a step: one of
// FindProviders, AskBids, Assign, Reassign, RequestReveal, Accept, Fail,
// StopExecution and Verdict. Actions are returned in the order they must be carried out.
type Action interface{ actionName() string }

// FindProviders asks the DHT which nodes provide the job's inputs, for
// data locality; deliver the answer as ProvidersFound before Until (the
// job stops waiting for it then). Bids are asked for at the same time; the
// bid round closes only once the answer is in or Until has passed.
type FindProviders struct {
	Inputs []cid.Cid
	Until  time.Time
}

// AskBids asks the network for bids on the job.
type AskBids struct {
	// Round numbers the bid rounds of the job from 1.
	Round int
	// Need is the number of executors still wanted.
	Need int
	// Until is when the round closes; bids after it are kept for later.
	Until time.Time
	// Exclude lists nodes that must not bid: current and past executors of
	// the job and nodes that declined it.
	Exclude []string
}

// Assign asks Node to run the job in replica Slot.
type Assign struct {
	Node    string
	Slot    int
	Attempt int
	// Module is the CID of the module to run.
	Module cid.Cid
	// Deadline is when the node must have committed.
	Deadline time.Time
}

// Reassign announces that Slot, whose executor Node failed with a node
// error, will be given to another node at At (after backoff). Nothing needs
// doing but delivering Timeout at Job.Wake(); the Assign follows then.
type Reassign struct {
	Node    string
	Slot    int
	Attempt int
	At      time.Time
}

// RequestReveal asks Nodes, which have all committed, to reveal their
// results by Deadline.
type RequestReveal struct {
	Nodes    []string
	Deadline time.Time
}

// Accept announces the accepted result, with the nodes that agreed and
// those that did not (revealed another result, revealed invalidly, or
// claimed a job error) so far. Executions still to reveal are judged
// later, each with a Verdict.
type Accept struct {
	Result     cid.Cid
	Agreeing   []string
	Dissenting []string
}

// Fail announces that the job failed.
type Fail struct{ Reason string }

// StopExecution asks Node to stop running the job.
type StopExecution struct {
	Node   string
	Reason string
}

// Verdict is what the job learned about a node, for its reputation
// (verify.Scorer.Observe). Every judged execution yields exactly one
// verdict: Agreed or Disagreed once the result is known (late reveals
// included), Failed for node errors and missed deadlines.
type Verdict struct {
	Node        string
	Observation verify.Observation
	Reason      string
}

func (FindProviders) actionName() string { return "find-providers" }
func (AskBids) actionName() string       { return "ask-bids" }
func (Assign) actionName() string        { return "assign" }
func (Reassign) actionName() string      { return "reassign" }
func (RequestReveal) actionName() string { return "request-reveal" }
func (Accept) actionName() string        { return "accept" }
func (Fail) actionName() string          { return "fail" }
func (StopExecution) actionName() string { return "stop-execution" }
func (Verdict) actionName() string       { return "verdict" }
