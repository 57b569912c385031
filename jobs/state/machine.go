package state

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipfs/go-cid"
)

// Params are the inputs of New.
type Params struct {
	// ID identifies the job; it is bound into every commitment and receipt.
	// Typically the spec's ID (spec.Spec.ID), with a suffix when the same
	// spec runs more than once. 1..verify.MaxJobIDLen bytes of UTF-8.
	ID string
	// Spec is the job; defaults are filled in by New.
	Spec spec.Spec
	// Module is the module CID. Optional when the spec names its module by
	// CID (it must then be equal); required when the spec names it by
	// name@version, which the caller resolves.
	Module cid.Cid
	// Policy tunes scheduling; zero fields take defaults.
	Policy Policy
}

// New returns a queued job. Deliver Submitted to start it.
func New(p Params, now time.Time) (Job, error) {
	if p.ID == "" || len(p.ID) > verify.MaxJobIDLen || !utf8.ValidString(p.ID) {
		return Job{}, fmt.Errorf("state: new: %w: job ID must be 1-%d bytes of UTF-8", ErrInvalidJob, verify.MaxJobIDLen)
	}
	s := p.Spec.WithDefaults()
	if err := s.Validate(); err != nil {
		return Job{}, fmt.Errorf("state: new: %w: %w", ErrInvalidJob, err)
	}
	module := p.Module
	switch {
	case s.Module.IsCID() && module.Defined() && !module.Equals(s.Module.CID):
		return Job{}, fmt.Errorf("state: new: %w: module %s differs from the spec's %s", ErrInvalidJob, module, s.Module)
	case s.Module.IsCID():
		module = s.Module.CID
	case !module.Defined():
		return Job{}, fmt.Errorf("state: new: %w: module %s must be resolved to a CID", ErrInvalidJob, s.Module)
	}
	t := s.Resources.Timeouts
	j := Job{
		ID: p.ID, Spec: s, Module: module, Policy: p.Policy.WithDefaults(),
		Phase: Queued, Created: now, Updated: now,
		QueueDeadline: now.Add(t.Queue), Deadline: now.Add(t.Total),
		Slots: make([]Slot, s.Replicas),
	}
	for i := range j.Slots {
		j.Slots[i].Exec = -1
	}
	m := &machine{j: j, now: now}
	m.record("created", "", fmt.Sprintf("replicas %d, quorum %d, module %s", s.Replicas, s.Quorum, module))
	return m.j, nil
}

// Step applies ev to j at time now and returns the new job and the actions
// the coordinator must carry out, in order. It does not modify j. An event
// that does not apply to the job in its current state returns an error
// wrapping ErrUnexpectedEvent, with j unchanged and no actions; a malformed
// j returns ErrInvalidJob.
//
// Deliver Timeout whenever now reaches j.Wake(). Events carrying results
// (Committed, Revealed) are checked here: a malformed commitment counts as
// a node error; a reveal that does not open the commitment, or whose
// receipt is invalid, is rejected as a lie.
func Step(j Job, ev Event, now time.Time) (Job, []Action, error) {
	if err := j.check(); err != nil {
		return j, nil, err
	}
	if ev == nil {
		return j, nil, fmt.Errorf("state: job %s: %w: nil event", j.ID, ErrUnexpectedEvent)
	}
	m := &machine{j: j.clone(), now: now}
	if err := m.step(ev); err != nil {
		return j, nil, err
	}
	if !m.changed {
		return j, nil, nil
	}
	if now.After(m.j.Updated) {
		m.j.Updated = now
	}
	return m.j, m.actions, nil
}

// Wake returns when the job next needs a Timeout event, or the zero time
// when it waits only for other events (or has ended).
func (j Job) Wake() time.Time {
	var t time.Time
	consider := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	switch j.Phase {
	case Completed:
		for _, x := range j.Executions {
			if x.State == ExecCommitted {
				consider(j.RevealDeadline)
			}
		}
		return t
	case Failed, Cancelled:
		return t
	case Queued, Bidding:
		consider(j.QueueDeadline)
	case Verifying:
		consider(j.RevealDeadline)
	}
	consider(j.Deadline)
	consider(j.ProvidersBy)
	if !j.BidClose.IsZero() {
		// Open slots are looked at again when the round closes.
		consider(j.BidClose)
	} else {
		for _, s := range j.Slots {
			if !s.Dead && s.Exec < 0 {
				consider(s.NotBefore)
				consider(j.NextBids)
			}
		}
	}
	for _, x := range j.Executions {
		if x.State.Active() {
			consider(x.Deadline)
		}
	}
	return t
}

// Pending returns the number of executions that committed but have not
// revealed.
func (j Job) Pending() int {
	n := 0
	for _, x := range j.Executions {
		if x.State == ExecCommitted {
			n++
		}
	}
	return n
}

// clone copies every slice Step may modify or append to.
func (j Job) clone() Job {
	j.Bids = slices.Clone(j.Bids)
	j.Declined = slices.Clone(j.Declined)
	j.Slots = slices.Clone(j.Slots)
	j.Executions = slices.Clone(j.Executions)
	j.Agreeing = slices.Clone(j.Agreeing)
	j.Dissenting = slices.Clone(j.Dissenting)
	j.History = slices.Clone(j.History)
	return j
}

// machine carries one step.
type machine struct {
	j       Job
	now     time.Time
	actions []Action
	changed bool
}

func (m *machine) emit(a Action) {
	m.actions = append(m.actions, a)
	m.changed = true
}

func (m *machine) record(kind, node, detail string) {
	m.j.History = append(m.j.History, Entry{At: m.now, Kind: kind, Node: node, Detail: detail})
	if max := m.j.Policy.MaxHistory; max > 0 && len(m.j.History) > max {
		drop := len(m.j.History) - max
		m.j.History = append(m.j.History[:0:0], m.j.History[drop:]...)
		m.j.HistoryDropped += drop
	}
	m.changed = true
}

func (m *machine) step(ev Event) error {
	j := &m.j
	switch e := ev.(type) {
	case Submitted:
		if j.Phase != Queued {
			return unexpected(j, ev, "job already submitted")
		}
		m.record("submitted", "", "")
		j.Phase = Bidding
		m.settle(false)
	case BidReceived:
		return m.bid(e)
	case Declined:
		return m.declined(e)
	case Assigned:
		i := m.execOf(e.Node)
		if j.Phase.Terminal() || i < 0 || j.Executions[i].State != ExecAssigned {
			return unexpected(j, ev, "node %s holds no pending assignment", e.Node)
		}
		m.setExec(i, ExecRunning, "")
		m.record("assigned", e.Node, "running")
		m.settle(false)
	case ExecutorFailed:
		return m.executorFailed(e)
	case Committed:
		return m.committed(e)
	case Revealed:
		return m.revealed(e)
	case Timeout:
		m.timeout()
	case BidsComplete:
		if j.Phase.Terminal() || j.BidClose.IsZero() || e.Round != j.BidRound {
			return nil
		}
		if !j.ProvidersBy.IsZero() && !m.bidHoldsAll() {
			// Ranking waits for the provider records (until ProvidersBy),
			// unless a bid already holds every input: providers could only
			// add equals to it.
			j.BidsIn = e.Round
			m.changed = true
			return nil
		}
		m.closeRound()
		m.settle(true)
	case ProvidersFound:
		if j.ProvidersBy.IsZero() {
			return unexpected(j, ev, "no provider lookup pending")
		}
		m.providersFound(e.Providers)
	case Cancel:
		if j.Phase.Terminal() {
			return unexpected(j, ev, "job already ended")
		}
		reason := clip(e.Reason, "cancelled")
		m.record("cancel", "", reason)
		m.end(Cancelled, reason)
	default:
		return unexpected(j, ev, "unknown event %T", ev)
	}
	return nil
}

// execOf returns the index of node's latest execution, or -1. A node
// executes a job at most once; only an assignment it declined as busy
// may be followed by another.
func (m *machine) execOf(node string) int {
	for i := len(m.j.Executions) - 1; i >= 0; i-- {
		if m.j.Executions[i].Node == node {
			return i
		}
	}
	return -1
}

// excluded reports whether node may not bid for the job again: it executed
// it (other than declining an assignment as busy) or declined it.
func (m *machine) excluded(node string) bool {
	if i := m.execOf(node); i >= 0 && !m.j.Executions[i].Busy {
		return true
	}
	return slices.Contains(m.j.Declined, node)
}

func (m *machine) setExec(i int, s ExecState, reason string) {
	x := &m.j.Executions[i]
	x.State, x.UpdatedAt = s, m.now
	if reason != "" {
		x.Reason = reason
	}
	if !s.Live() && m.j.Slots[x.Slot].Exec == i {
		m.j.Slots[x.Slot].Exec = -1
	}
	m.changed = true
}

// Bids.

func (m *machine) bid(e BidReceived) error {
	j := &m.j
	c := e.Bid
	switch {
	case j.Phase != Bidding && j.Phase != Running:
		return unexpected(j, e, "no executors wanted")
	case c.Node == "" || len(c.Node) > verify.MaxPeerIDLen:
		return unexpected(j, e, "bid without a valid node ID")
	case slices.Contains(j.Declined, c.Node):
		return unexpected(j, e, "node %s declined this job", c.Node)
	case m.excluded(c.Node):
		return unexpected(j, e, "node %s already executed this job", c.Node)
	}
	m.dropBid(c.Node)
	if reason := m.ineligible(c); reason != "" {
		m.record("bid", c.Node, "rejected: "+reason)
		m.settle(false)
		return nil
	}
	// Keep what ranking needs, without sharing the caller's memory: of the
	// CIDs the node has, only the job's inputs.
	set := newInputSet(j.Spec.InputCIDs())
	var has []cid.Cid
	for _, h := range c.Has {
		if _, ok := set[string(h.Hash())]; ok && h.Defined() && !slices.ContainsFunc(has, h.Equals) {
			has = append(has, h)
		}
	}
	c.Has, c.Labels, c.Roles = has, maps.Clone(c.Labels), slices.Clone(c.Roles)
	j.Bids = append(j.Bids, c)
	if len(j.Bids) > j.Policy.MaxBids {
		ranked := RankFor(j.ID, j.Spec.InputCIDs(), m.withProviders(j.Bids))
		keep := make(map[string]bool, j.Policy.MaxBids)
		for _, r := range ranked[:j.Policy.MaxBids] {
			keep[r.Node] = true
		}
		j.Bids = slices.DeleteFunc(j.Bids, func(b Candidate) bool { return !keep[b.Node] })
		if worst := ranked[len(ranked)-1]; worst.Node != c.Node {
			m.record("bid", worst.Node, "dropped: outranked by newer bids")
		} else {
			m.record("bid", c.Node, "rejected: outranked by held bids")
			m.settle(false)
			return nil
		}
	}
	m.record("bid", c.Node, fmt.Sprintf("has %d of %d inputs, %d free slots, load %.2f, latency %s, reputation %.2f",
		c.Locality(j.Spec.InputCIDs()), len(j.Spec.Inputs), c.FreeSlots, c.Load, c.Latency, c.Reputation))
	m.settle(false)
	return nil
}

func (m *machine) dropBid(node string) {
	m.j.Bids = slices.DeleteFunc(m.j.Bids, func(c Candidate) bool { return c.Node == node })
}

// ineligible says why c may not execute the job, or "".
func (m *machine) ineligible(c Candidate) string {
	s := m.j.Spec
	switch {
	case c.Quarantined:
		return "node is quarantined"
	case !s.Constraints.Match(c.Labels, c.Roles):
		return "node does not satisfy the job's constraints: " + unmet(s.Constraints, c.Labels, c.Roles)
	case c.FreeMemory != 0 && c.FreeMemory < uint64(s.Resources.Memory):
		return fmt.Sprintf("free memory %s is below the job's %s", spec.Size(c.FreeMemory), s.Resources.Memory)
	}
	return ""
}

func (m *machine) declined(e Declined) error {
	j := &m.j
	if j.Phase.Terminal() {
		return unexpected(j, e, "job already ended")
	}
	reason := clip(e.Reason, "no reason given")
	if i := m.execOf(e.Node); i >= 0 && j.Executions[i].State == ExecAssigned {
		x := j.Executions[i]
		m.setExec(i, ExecDeclined, reason)
		if e.Busy {
			j.Executions[i].Busy = true
			j.BusyRound = true
			m.record("declined", e.Node, fmt.Sprintf("slot %d: %s (asked again in later rounds)", x.Slot, reason))
			m.settle(false)
			return nil
		}
		m.record("declined", e.Node, fmt.Sprintf("slot %d: %s", x.Slot, reason))
	} else if i >= 0 && !j.Executions[i].Busy {
		return unexpected(j, e, "node %s is %s; only an assignment not yet started can be declined", e.Node, j.Executions[i].State)
	} else {
		if j.Phase != Bidding && j.Phase != Running {
			return unexpected(j, e, "no executors wanted")
		}
		if slices.Contains(j.Declined, e.Node) {
			return unexpected(j, e, "node %s already declined", e.Node)
		}
		m.dropBid(e.Node)
		if e.Busy {
			j.BusyRound = true
			m.record("declined", e.Node, reason+" (asked again in later rounds)")
			m.settle(false)
			return nil
		}
		m.record("declined", e.Node, reason)
	}
	j.Declined = append(j.Declined, e.Node)
	m.settle(false)
	return nil
}

// Executions.

func (m *machine) executorFailed(e ExecutorFailed) error {
	j := &m.j
	i := m.execOf(e.Node)
	if j.Phase.Terminal() || i < 0 {
		return unexpected(j, e, "node %s holds no execution", e.Node)
	}
	x := j.Executions[i]
	reason := clip(e.Reason, "no reason given")
	switch {
	case e.IsJobError && x.State.Active():
		m.setExec(i, ExecFailed, "job error: "+reason)
		j.Executions[i].JobError = true
		slot := &j.Slots[x.Slot]
		slot.Dead, slot.Reason = true, "job error: "+reason
		m.record("executor-failed", e.Node, fmt.Sprintf("slot %d: job error: %s (not retried)", x.Slot, reason))
	case x.State.Active() || x.State == ExecCommitted:
		// A job error reported after committing is not a job error.
		m.record("executor-failed", e.Node, fmt.Sprintf("slot %d: node error: %s", x.Slot, reason))
		m.nodeError(i, ExecFailed, "node error: "+reason, false)
	default:
		return unexpected(j, e, "node %s is %s", e.Node, x.State)
	}
	m.settle(false)
	return nil
}

// nodeError ends execution i with a node error and schedules its slot for
// reassignment, or gives the slot up.
func (m *machine) nodeError(i int, s ExecState, reason string, stop bool) {
	j := &m.j
	x := j.Executions[i]
	m.setExec(i, s, reason)
	if stop {
		m.emit(StopExecution{Node: x.Node, Reason: reason})
	}
	m.emit(Verdict{Node: x.Node, Observation: verify.Failed, Reason: reason})
	slot := &j.Slots[x.Slot]
	if j.Phase != Bidding && j.Phase != Running {
		if j.Phase == Verifying {
			// Reveals have started: a new executor could copy them.
			slot.Dead, slot.Reason = true, "lost during verification: "+reason
		}
		return
	}
	slot.Attempts++
	if slot.Attempts >= j.Policy.MaxAttempts {
		slot.Dead, slot.Reason = true, fmt.Sprintf("gave up after %d node errors", slot.Attempts)
		m.record("slot-given-up", "", fmt.Sprintf("slot %d: %s", x.Slot, slot.Reason))
		return
	}
	d := doubling(j.Policy.Backoff, j.Policy.BackoffMax, slot.Attempts)
	slot.NotBefore = m.now.Add(d)
	m.emit(Reassign{Node: x.Node, Slot: x.Slot, Attempt: slot.Attempts + 1, At: slot.NotBefore})
	m.record("reassign", x.Node, fmt.Sprintf("slot %d: attempt %d after %s", x.Slot, slot.Attempts+1, d))
}

func (m *machine) committed(e Committed) error {
	j := &m.j
	i := m.execOf(e.Node)
	if (j.Phase != Bidding && j.Phase != Running) || i < 0 || !j.Executions[i].State.Active() {
		return unexpected(j, e, "node %s holds no running execution", e.Node)
	}
	if len(e.Commitment) != verify.CommitmentSize {
		reason := fmt.Sprintf("malformed commitment of %d bytes", len(e.Commitment))
		m.record("committed", e.Node, "rejected: "+reason)
		m.nodeError(i, ExecFailed, "node error: "+reason, true)
		m.settle(false)
		return nil
	}
	m.setExec(i, ExecCommitted, "")
	j.Executions[i].Commitment = slices.Clone(e.Commitment)
	m.record("committed", e.Node, fmt.Sprintf("slot %d", j.Executions[i].Slot))
	m.settle(false)
	return nil
}

func (m *machine) revealed(e Revealed) error {
	j := &m.j
	i := m.execOf(e.Node)
	if (j.Phase != Verifying && j.Phase != Completed) || i < 0 || j.Executions[i].State != ExecCommitted {
		return unexpected(j, e, "node %s holds no commitment awaiting a reveal", e.Node)
	}
	x := &j.Executions[i]
	if reason := m.checkReveal(*x, e); reason != "" {
		m.record("revealed", e.Node, "rejected: "+reason)
		m.setExec(i, ExecRejected, reason)
		m.emit(Verdict{Node: e.Node, Observation: verify.Disagreed, Reason: reason})
		if j.Phase == Completed {
			j.Dissenting = insertSorted(j.Dissenting, e.Node)
		}
		if j.Phase == Verifying {
			slot := &j.Slots[x.Slot]
			slot.Dead, slot.Reason = true, "invalid reveal: "+reason
			m.tally()
		}
		return nil
	}
	x.Result, x.Salt = e.Result, slices.Clone(e.Salt)
	r := *e.Receipt
	x.Receipt = &r
	m.setExec(i, ExecRevealed, "")
	m.record("revealed", e.Node, e.Result.String())
	if j.Phase == Completed {
		m.judge(i)
		// A late reveal joins the record of the decision.
		if j.Executions[i].State == ExecAccepted {
			j.Agreeing = insertSorted(j.Agreeing, e.Node)
		} else {
			j.Dissenting = insertSorted(j.Dissenting, e.Node)
		}
		return nil
	}
	m.tally()
	return nil
}

// MaxReasonLen bounds the reasons taken from events (they come from other
// nodes); longer ones are cut.
const MaxReasonLen = 256

// clip returns reason cut to MaxReasonLen bytes on a rune boundary, with
// invalid UTF-8 replaced, or def when reason is empty.
func clip(reason, def string) string {
	if reason == "" {
		return def
	}
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) <= MaxReasonLen {
		return reason
	}
	cut := MaxReasonLen
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut] + "…"
}

func insertSorted(list []string, s string) []string {
	i, found := slices.BinarySearch(list, s)
	if found {
		return list
	}
	return slices.Insert(list, i, s)
}

// checkReveal returns why a reveal is invalid, or "".
func (m *machine) checkReveal(x Execution, e Revealed) string {
	j := &m.j
	if err := verify.CheckReveal(x.Commitment, e.Result, e.Salt, x.Node, j.ID); err != nil {
		return err.Error()
	}
	r := e.Receipt
	if r == nil {
		return "no receipt"
	}
	if err := verify.Verify(*r); err != nil {
		return err.Error()
	}
	switch {
	case r.NodeID != x.Node:
		return fmt.Sprintf("receipt is from %s", r.NodeID)
	case r.JobID != j.ID:
		return fmt.Sprintf("receipt is for job %q", r.JobID)
	case !r.ResultCID.Equals(e.Result):
		return fmt.Sprintf("receipt names result %s, reveal %s", r.ResultCID, e.Result)
	case !r.ModuleCID.Equals(j.Module):
		return fmt.Sprintf("receipt names module %s, job runs %s", r.ModuleCID, j.Module)
	case !slices.EqualFunc(r.InputCIDs, j.Spec.InputCIDs(), cid.Cid.Equals):
		return "receipt names other inputs than the job's"
	}
	// r.Error may name a trap: a trap (or out of fuel) is part of the
	// deterministic result (the result directory holds it), voted on like
	// any other result, so honest nodes agree on it and a liar claiming one
	// is out-voted.
	return ""
}

// judge compares revealed execution i with the accepted result.
func (m *machine) judge(i int) {
	x := m.j.Executions[i]
	if x.Result.Equals(m.j.Result) {
		m.setExec(i, ExecAccepted, "")
		m.emit(Verdict{Node: x.Node, Observation: verify.Agreed, Reason: "result accepted"})
		return
	}
	reason := fmt.Sprintf("result %s differs from the accepted %s", x.Result, m.j.Result)
	m.setExec(i, ExecRejected, reason)
	m.emit(Verdict{Node: x.Node, Observation: verify.Disagreed, Reason: reason})
}

// tally counts the reveals and ends the job when the outcome is final.
func (m *machine) tally() {
	j := &m.j
	var votes []verify.Vote
	for _, x := range j.Executions {
		if x.State == ExecRevealed {
			votes = append(votes, verify.Vote{Node: x.Node, Result: x.Result})
		}
	}
	out, err := verify.Tally(votes, j.Spec.Quorum, j.Pending())
	if err != nil {
		m.end(Failed, "tally: "+err.Error())
		return
	}
	switch out.Status {
	case verify.Accepted:
		j.Phase, j.Result = Completed, out.Result
		dissent := slices.Clone(out.Dissenting)
		var jobErrors []int
		for i, x := range j.Executions {
			switch {
			case x.JobError:
				dissent = append(dissent, x.Node)
				jobErrors = append(jobErrors, i)
			case x.State == ExecRejected: // an invalid reveal
				dissent = append(dissent, x.Node)
			}
		}
		slices.Sort(dissent)
		j.Agreeing, j.Dissenting = out.Agreeing, dissent
		m.emit(Accept{Result: out.Result, Agreeing: slices.Clone(out.Agreeing), Dissenting: slices.Clone(dissent)})
		m.record("accept", "", fmt.Sprintf("%s: %d agree, %d dissent, %d pending", out.Result, len(out.Agreeing), len(dissent), j.Pending()))
		for i, x := range j.Executions {
			if x.State == ExecRevealed {
				m.judge(i)
			}
		}
		for _, i := range jobErrors {
			x := j.Executions[i]
			m.emit(Verdict{Node: x.Node, Observation: verify.Disagreed, Reason: x.Reason + " contradicts the accepted result"})
		}
	case verify.NoQuorum:
		m.end(Failed, fmt.Sprintf("no quorum: %s", describeCounts(out, j.Spec.Quorum)))
	case verify.Ambiguous:
		m.end(Failed, fmt.Sprintf("ambiguous: more than one result reached the quorum: %s", describeCounts(out, j.Spec.Quorum)))
	}
}

func describeCounts(out verify.Outcome, quorum int) string {
	if len(out.Counts) == 0 {
		return fmt.Sprintf("no valid reveals (quorum %d)", quorum)
	}
	var parts []string
	for _, c := range out.Counts {
		parts = append(parts, fmt.Sprintf("%s×%d", c.Result, len(c.Nodes)))
	}
	return fmt.Sprintf("%s (quorum %d)", strings.Join(parts, ", "), quorum)
}

// Time.

func (m *machine) timeout() {
	j := &m.j
	switch {
	case j.Phase == Completed:
		if !j.RevealDeadline.IsZero() && !m.now.Before(j.RevealDeadline) {
			for i, x := range j.Executions {
				if x.State == ExecCommitted {
					m.record("timed-out", x.Node, "no reveal before the deadline")
					m.nodeError(i, ExecTimedOut, "missed the reveal deadline", false)
				}
			}
		}
		return
	case j.Phase.Terminal():
		return
	case j.Phase == Verifying && !m.now.Before(j.RevealDeadline):
		// The reveal deadline is never after the total deadline: time out
		// the missing reveals and let the final count decide.
		for i, x := range j.Executions {
			if x.State == ExecCommitted {
				m.record("timed-out", x.Node, fmt.Sprintf("slot %d: no reveal before the deadline", x.Slot))
				m.nodeError(i, ExecTimedOut, "missed the reveal deadline", false)
			}
		}
		m.tally()
		return
	case !m.now.Before(j.Deadline):
		m.end(Failed, fmt.Sprintf("timeout: the job exceeded its total timeout of %s", j.Spec.Resources.Timeouts.Total))
		return
	case (j.Phase == Queued || j.Phase == Bidding) && !m.now.Before(j.QueueDeadline):
		m.end(Failed, fmt.Sprintf("queue timeout: %d of %d executors found within %s", m.filled(), len(j.Slots), j.Spec.Resources.Timeouts.Queue))
		return
	}
	for i, x := range j.Executions {
		if x.State.Active() && !m.now.Before(x.Deadline) {
			m.record("timed-out", x.Node, fmt.Sprintf("slot %d: no commitment before the deadline", x.Slot))
			m.nodeError(i, ExecTimedOut, "missed the commit deadline", true)
		}
	}
	closed := false
	if !j.ProvidersBy.IsZero() && !m.now.Before(j.ProvidersBy) {
		j.ProvidersBy, j.Providers = time.Time{}, map[string][]cid.Cid{}
		m.record("providers", "", fmt.Sprintf("no answer from the DHT within %s; ranking on the bids' own reports", j.Policy.ProviderTimeout))
		if j.BidsIn == j.BidRound && !j.BidClose.IsZero() {
			m.closeRound()
			closed = true
		}
	}
	if !j.BidClose.IsZero() && !m.now.Before(j.BidClose) {
		j.BidClose = time.Time{}
		closed = true
		m.record("bids-closed", "", fmt.Sprintf("round %d: %d bids held", j.BidRound, len(j.Bids)))
	}
	m.settle(closed)
}

// filled counts slots that have a live execution.
func (m *machine) filled() int {
	n := 0
	for _, s := range m.j.Slots {
		if s.Exec >= 0 {
			n++
		}
	}
	return n
}

// Progress.

// settle moves the job forward after an event: fails it when the quorum
// has become unreachable, fills open slots, and starts verification when
// every live slot has committed. windowClosed is set when a bid round has
// just closed.
func (m *machine) settle(windowClosed bool) {
	j := &m.j
	switch j.Phase {
	case Verifying:
		m.tally()
		return
	case Bidding, Running:
	default:
		return
	}
	alive := 0
	var jobError string
	for _, s := range j.Slots {
		if !s.Dead {
			alive++
		} else if jobError == "" && strings.HasPrefix(s.Reason, "job error: ") {
			jobError = s.Reason
		}
	}
	if alive < j.Spec.Quorum {
		if jobError != "" {
			m.end(Failed, jobError)
		} else {
			m.end(Failed, fmt.Sprintf("not enough executors: %d of %d replicas given up, quorum %d unreachable", len(j.Slots)-alive, len(j.Slots), j.Spec.Quorum))
		}
		return
	}
	m.fill(windowClosed)

	waiting, committed := 0, 0
	for _, s := range j.Slots {
		switch {
		case s.Dead:
		case s.Exec < 0:
			waiting++
		case j.Executions[s.Exec].State == ExecCommitted:
			committed++
		}
	}
	if j.Phase == Bidding && waiting == 0 {
		j.Phase = Running
		m.record("running", "", "every replica has an executor")
	}
	if waiting == 0 && committed == alive {
		m.verify()
	}
}

// fill assigns ready slots to the best bids, and asks for bids when it runs
// out of them.
func (m *machine) fill(windowClosed bool) {
	j := &m.j
	if !j.BidClose.IsZero() {
		return // a round is collecting bids
	}
	ready := func() []int {
		var out []int
		for i, s := range j.Slots {
			if !s.Dead && s.Exec < 0 && !m.now.Before(s.NotBefore) {
				out = append(out, i)
			}
		}
		return out
	}
	open := ready()
	for _, i := range open {
		if !j.Slots[i].NotBefore.IsZero() {
			j.Slots[i].NotBefore = time.Time{} // passed: Wake need not consider it
			m.changed = true
		}
	}
	if len(open) > 0 && len(j.Bids) > 0 {
		ranked := RankFor(j.ID, j.Spec.InputCIDs(), m.withProviders(j.Bids))
		for _, slot := range open {
			if len(ranked) == 0 {
				break
			}
			m.assign(slot, ranked[0])
			ranked = ranked[1:]
		}
		open = ready()
	}
	if windowClosed {
		if len(open) > 0 {
			j.EmptyRounds++
			d := doubling(j.Policy.BidRetry, j.Policy.BidRetryMax, j.EmptyRounds)
			why := ""
			if j.BusyRound {
				d = doubling(j.Policy.BusyRetry, j.Policy.BusyRetryMax, j.EmptyRounds)
				why = " (nodes busy)"
			}
			j.NextBids = m.now.Add(d)
			m.record("no-bids", "", fmt.Sprintf("%d replicas still wanted%s; asking again after %s", len(open), why, d))
		} else if j.EmptyRounds != 0 {
			j.EmptyRounds = 0
			m.changed = true
		}
		return
	}
	switch {
	case len(open) > 0 && !m.now.Before(j.NextBids):
		m.askBids()
	case !j.NextBids.IsZero() && !m.now.Before(j.NextBids):
		// Due, but every open slot is still backing off: ask as soon as
		// one is ready.
		j.NextBids = time.Time{}
		m.changed = true
	}
}

func (m *machine) askBids() {
	j := &m.j
	need := 0
	for _, s := range j.Slots {
		if !s.Dead && s.Exec < 0 {
			need++
		}
	}
	exclude := slices.Clone(j.Declined)
	for _, x := range j.Executions {
		if !m.excluded(x.Node) {
			continue // declined an assignment as busy: ask again
		}
		exclude = append(exclude, x.Node)
	}
	slices.Sort(exclude)
	exclude = slices.Compact(exclude)
	j.BidRound++
	j.BusyRound = false
	j.BidClose = m.now.Add(j.Policy.BidWindow)
	j.NextBids = time.Time{}
	if inputs := newInputSet(j.Spec.InputCIDs()); len(inputs) > 0 && j.Providers == nil && j.ProvidersBy.IsZero() {
		j.ProvidersBy = m.now.Add(j.Policy.ProviderTimeout)
		if j.ProvidersBy.After(j.BidClose) {
			j.ProvidersBy = j.BidClose
		}
		m.emit(FindProviders{Inputs: distinctInputs(j.Spec.InputCIDs()), Until: j.ProvidersBy})
	}
	m.emit(AskBids{Round: j.BidRound, Need: need, Until: j.BidClose, Exclude: exclude})
	m.record("ask-bids", "", fmt.Sprintf("round %d: %d wanted", j.BidRound, need))
}

func (m *machine) assign(slot int, c Candidate) {
	j := &m.j
	m.dropBid(c.Node)
	s := &j.Slots[slot]
	deadline := m.now.Add(j.Spec.Resources.Timeouts.Execution)
	if deadline.After(j.Deadline) {
		deadline = j.Deadline
	}
	x := Execution{
		Node: c.Node, Slot: slot, Attempt: s.Attempts + 1, State: ExecAssigned,
		AssignedAt: m.now, Deadline: deadline, UpdatedAt: m.now,
	}
	j.Executions = append(j.Executions, x)
	s.Exec = len(j.Executions) - 1
	m.emit(Assign{Node: c.Node, Slot: slot, Attempt: x.Attempt, Module: j.Module, Deadline: deadline})
	m.record("assign", c.Node, fmt.Sprintf("slot %d attempt %d (has %d of %d inputs)", slot, x.Attempt, c.Locality(j.Spec.InputCIDs()), len(j.Spec.Inputs)))
}

func (m *machine) verify() {
	j := &m.j
	j.Phase = Verifying
	j.Bids, j.BidClose, j.NextBids = nil, time.Time{}, time.Time{} // slots are never refilled from here on
	j.ProvidersBy = time.Time{}
	j.RevealDeadline = m.now.Add(j.Policy.RevealTimeout)
	if j.RevealDeadline.After(j.Deadline) {
		j.RevealDeadline = j.Deadline
	}
	var nodes []string
	for _, s := range j.Slots {
		if !s.Dead && s.Exec >= 0 {
			nodes = append(nodes, j.Executions[s.Exec].Node)
		}
	}
	m.emit(RequestReveal{Nodes: nodes, Deadline: j.RevealDeadline})
	m.record("request-reveal", "", fmt.Sprintf("%d commitments", len(nodes)))
}

// end moves the job to Failed or Cancelled, stopping live executions.
func (m *machine) end(p Phase, reason string) {
	j := &m.j
	j.Phase, j.Reason = p, reason
	j.Bids, j.BidClose, j.NextBids, j.ProvidersBy = nil, time.Time{}, time.Time{}, time.Time{}
	if p == Failed {
		m.emit(Fail{Reason: reason})
		m.record("fail", "", reason)
	}
	for i, x := range j.Executions {
		switch {
		case x.State.Active():
			m.setExec(i, ExecCancelled, "job "+string(p))
			m.emit(StopExecution{Node: x.Node, Reason: "job " + string(p) + ": " + reason})
		case x.State == ExecCommitted:
			m.setExec(i, ExecCancelled, "job "+string(p))
		}
	}
}

// closeRound closes the open bid round once every asked node answered.
func (m *machine) closeRound() {
	j := &m.j
	j.BidClose = time.Time{}
	m.record("bids-closed", "", fmt.Sprintf("round %d: every asked node answered; %d bids held", j.BidRound, len(j.Bids)))
}

// providersFound takes the answer of the provider lookup: only the job's
// inputs count, at most Policy.MaxBids nodes are kept (by node ID), and each
// provider is recorded in the history.
func (m *machine) providersFound(found map[string][]cid.Cid) {
	j := &m.j
	set := newInputSet(j.Spec.InputCIDs())
	providers := map[string][]cid.Cid{}
	for _, node := range slices.Sorted(maps.Keys(found)) {
		if node == "" || len(node) > verify.MaxPeerIDLen || len(providers) == j.Policy.MaxBids {
			continue
		}
		var has []cid.Cid
		for _, c := range found[node] {
			if _, ok := set[string(c.Hash())]; ok && c.Defined() && !slices.ContainsFunc(has, func(h cid.Cid) bool { return string(h.Hash()) == string(c.Hash()) }) {
				has = append(has, c)
			}
		}
		if len(has) > 0 {
			providers[node] = has
		}
	}
	j.Providers, j.ProvidersBy = providers, time.Time{}
	if len(providers) == 0 {
		m.record("providers", "", "no DHT provider records for the inputs")
	}
	for _, node := range slices.Sorted(maps.Keys(providers)) {
		m.record("provider", node, fmt.Sprintf("DHT provider record for %d of %d inputs", len(providers[node]), len(set)))
	}
	if j.BidsIn == j.BidRound && !j.BidClose.IsZero() {
		m.closeRound()
		m.settle(true)
	}
}

// bidHoldsAll reports whether some held bid says it stores every input.
func (m *machine) bidHoldsAll() bool {
	set := newInputSet(m.j.Spec.InputCIDs())
	for _, c := range m.j.Bids {
		if set.locality(c) == len(set) {
			return true
		}
	}
	return false
}

// withProviders returns copies of cands whose Has also lists the inputs
// that provider records say they hold.
func (m *machine) withProviders(cands []Candidate) []Candidate {
	if len(m.j.Providers) == 0 {
		return cands
	}
	out := make([]Candidate, len(cands))
	for i, c := range cands {
		if p := m.j.Providers[c.Node]; len(p) > 0 {
			c.Has = append(slices.Clip(c.Has), p...)
		}
		out[i] = c
	}
	return out
}

// distinctInputs returns inputs without repeated multihashes.
func distinctInputs(inputs []cid.Cid) []cid.Cid {
	seen := map[string]bool{}
	var out []cid.Cid
	for _, c := range inputs {
		if k := string(c.Hash()); !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// unmet names the first constraint a node fails, for the history.
func unmet(c spec.Constraints, labels map[string]string, roles []string) string {
	keys := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if got, ok := labels[k]; !ok {
			return fmt.Sprintf("no label %s (want %s)", k, c.Labels[k])
		} else if got != c.Labels[k] {
			return fmt.Sprintf("label %s is %s, want %s", k, got, c.Labels[k])
		}
	}
	for _, r := range c.Roles {
		if !slices.Contains(roles, r) {
			return fmt.Sprintf("no role %s", r)
		}
	}
	return "unknown"
}
