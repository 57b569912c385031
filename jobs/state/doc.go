// Package state is the lifecycle of a job as a pure state machine: it
// decides what a coordinator does next, and the coordinator does it.
//
// A [Job] is plain data (JSON-serialisable, so a coordinator can persist it
// after every step and resume after a restart). [New] makes a queued job;
// [Step] applies one [Event] at a given time and returns the new job and
// the [Action]s to carry out:
//
//	job, _ := state.New(state.Params{ID: id, Spec: s}, now)
//	job, actions, err := state.Step(job, state.Submitted{}, now)
//	// carry out actions (AskBids, Assign, …), persist job,
//	// deliver state.Timeout{} at job.Wake(), and every message as an event.
//
// # Lifecycle
//
// queued → bidding → running → verifying → completed, or failed / cancelled
// from any non-terminal phase. A job has K replica slots (spec replicas).
// In bidding the job asks for bids (AskBids), collects them for
// Policy.BidWindow (or until every asked node answered: BidsComplete),
// ranks them with [RankFor] (data locality, free capacity, load, latency,
// reputation, then a per-job spread among equals; quarantined nodes and
// nodes not meeting the spec's constraints or memory are refused) and
// assigns the best distinct nodes (Assign). A job with inputs also asks
// which nodes DHT provider records name for them (FindProviders, answered
// by ProvidersFound within Policy.ProviderTimeout); a node counts as
// holding an input when its bid says so or a provider record does, the
// first round stays open until the answer is in (or its time is up), and
// the history names each provider. Once every slot has an executor the job is running. When
// every live slot's executor has committed (verify.Commit) the job asks for
// reveals (RequestReveal) and verifies: each reveal must open its commitment
// and carry a valid receipt for this job, module, inputs and result; the
// job completes as soon as verify.Tally accepts a result (Accept), and fails
// when no quorum is possible.
//
// Failures: a job error (trap, exit code, out of fuel) is deterministic and
// kills its slot without retry; the job fails with it when the quorum is no
// longer reachable. A node error (crash, unreachable, missed deadline,
// malformed commitment) is retried on another node after an exponential
// backoff (Reassign), up to Policy.MaxAttempts per slot. Declined
// assignments are reassigned at once. Queue and total timeouts come from the
// spec. Every step appends to Job.History, which records why each node was
// refused, declined, failed or was rejected.
//
// Every execution judged yields a [Verdict] action (agreed, disagreed,
// failed) to feed verify.Scorer.
//
// The package does no I/O, starts no goroutines and never reads the clock.
// Step never modifies the job it is given; a Job value may be shared once
// made.
package state
