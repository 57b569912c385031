package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ipdm/ipdm/jobs/state"
)

// Live output: an executor keeps the last LiveOutputMax bytes of each
// stream of every execution it runs (outputRing, filled by the sandbox as
// the module writes), and the job's coordinator pulls them from an offset
// with protoOutput while the job runs (Service.Output).
const (
	// LiveOutputMax is how much of each stream an executor keeps per
	// execution for the coordinator to pull: the last LiveOutputMax bytes.
	LiveOutputMax = 1 << 20
	// maxOutputChunk bounds the bytes of one stream in one answer (both
	// streams, base64 in JSON, stay under maxWireBytes).
	maxOutputChunk = 256 << 10
	// maxStreamOffset bounds offsets on the wire.
	maxStreamOffset = 1 << 62
)

// OutputChunk is a piece of one output stream: Data starts at byte From of
// the stream. From is past the offset asked for when the bytes in between
// were dropped (more than LiveOutputMax behind), and it is the stream's
// end when there is nothing new.
type OutputChunk struct {
	From int64  `json:"from"`
	Data []byte `json:"data,omitempty"`
}

// Next is the offset to ask for next.
func (c OutputChunk) Next() int64 { return c.From + int64(len(c.Data)) }

// LiveOutput is what an execution wrote from the offsets asked for, at
// most 256 KiB per stream. Ended reports that the run is over and nothing
// more will come after these bytes' streams end (or, once the executor
// has let its buffers go, at all).
type LiveOutput struct {
	Stdout OutputChunk `json:"stdout"`
	Stderr OutputChunk `json:"stderr"`
	Ended  bool        `json:"ended,omitempty"`
}

// outputRing keeps the last max bytes of a stream and the stream's total
// length. Byte i of the stream, while kept, is buf[i%max]; buf grows as
// the stream does up to max.
type outputRing struct {
	buf   []byte
	max   int
	total int64
}

func (r *outputRing) write(p []byte) {
	n := len(p)
	if r.max <= 0 {
		r.total += int64(n)
		return
	}
	if r.total+int64(n) <= int64(r.max) { // still growing: buf[i] is byte i
		r.buf = append(r.buf, p...)
		r.total += int64(n)
		return
	}
	if len(r.buf) < r.max {
		r.buf = append(r.buf, make([]byte, r.max-len(r.buf))...)
	}
	start := r.total
	if n > r.max { // only the last max bytes can be kept
		start += int64(n - r.max)
		p = p[n-r.max:]
	}
	at := int(start % int64(r.max))
	k := copy(r.buf[at:], p)
	copy(r.buf, p[k:])
	r.total += int64(n)
}

// read returns up to limit kept bytes from offset from (or from the first
// kept byte, when from was dropped; the end, when from is past it).
func (r *outputRing) read(from int64, limit int) OutputChunk {
	first := r.total - int64(min(len(r.buf), r.max))
	start := min(max(from, first), r.total)
	end := min(r.total, start+int64(limit))
	out := OutputChunk{From: start}
	if end == start {
		return out
	}
	out.Data = make([]byte, 0, end-start)
	for i := start; i < end; {
		at := int(i % int64(r.max))
		seg := r.buf[at:min(len(r.buf), at+int(end-i))]
		out.Data = append(out.Data, seg...)
		i += int64(len(seg))
	}
	return out
}

// liveOutput is one execution's live streams. Its writers are fed by the
// guest's goroutine: they copy into memory and never block on anything
// but mu, which readers hold only to copy out at most maxOutputChunk bytes.
type liveOutput struct {
	mu             sync.Mutex
	stdout, stderr outputRing
	ended          bool
	endedAt        time.Time
}

// outputGrace is how long an executor keeps an ended execution's live
// output for the coordinator to pull the rest (the accepted result holds
// it for good).
const outputGrace = 30 * time.Second

func newLiveOutput() *liveOutput {
	return &liveOutput{stdout: outputRing{max: LiveOutputMax}, stderr: outputRing{max: LiveOutputMax}}
}

// ringWriter feeds one stream of a liveOutput.
type ringWriter struct {
	o      *liveOutput
	stream func(o *liveOutput) *outputRing
}

func (w ringWriter) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	w.stream(w.o).write(p)
	w.o.mu.Unlock()
	return len(p), nil
}

func (o *liveOutput) writers() (stdout, stderr ringWriter) {
	return ringWriter{o, func(o *liveOutput) *outputRing { return &o.stdout }},
		ringWriter{o, func(o *liveOutput) *outputRing { return &o.stderr }}
}

// end marks the run over.
func (o *liveOutput) end() {
	o.mu.Lock()
	if !o.ended {
		o.ended, o.endedAt = true, time.Now()
	}
	o.mu.Unlock()
}

// releaseEnded lets the buffers go if the run ended before t.
func (o *liveOutput) releaseEnded(t time.Time) {
	o.mu.Lock()
	if o.ended && o.endedAt.Before(t) {
		o.stdout.buf, o.stderr.buf = nil, nil
	}
	o.mu.Unlock()
}

// release marks the run over and lets the buffers go: later reads find
// the streams' ends only.
func (o *liveOutput) release() {
	o.mu.Lock()
	if !o.ended {
		o.ended, o.endedAt = true, time.Now()
	}
	o.stdout.buf, o.stderr.buf = nil, nil
	o.mu.Unlock()
}

func (o *liveOutput) read(stdoutFrom, stderrFrom int64) LiveOutput {
	o.mu.Lock()
	defer o.mu.Unlock()
	return LiveOutput{
		Stdout: o.stdout.read(stdoutFrom, maxOutputChunk),
		Stderr: o.stderr.read(stderrFrom, maxOutputChunk),
		Ended:  o.ended,
	}
}

// handleOutput answers the coordinator's pull of an execution's live
// output. Only the execution's coordinator may pull it.
func (s *Service) handleOutput(ctx context.Context, from string, msg []byte) ([]byte, error) {
	req, err := decode(msg, (*outputRequest).check)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	x, ok := s.running[req.JobID]
	s.mu.Unlock()
	switch {
	case !ok:
		return nil, fmt.Errorf("no execution of job %s here", req.JobID)
	case x.coordinator != from:
		return nil, fmt.Errorf("job %s is coordinated by another node", req.JobID)
	}
	return encode(outputResponse(x.output.read(req.Stdout, req.Stderr))), nil
}

// ErrNotExecutor is returned by Output for a node that has no execution of
// the job.
var ErrNotExecutor = errors.New("not an executor of the job")

// Output pulls what node's execution of job id (a job this node
// coordinates) has written since the given offsets of its stdout and
// stderr: the live output, while it runs and for a while after. An error
// means the executor has no such execution (not yet, or no longer) or
// could not be reached.
func (s *Service) Output(ctx context.Context, id, node string, stdoutFrom, stderrFrom int64) (LiveOutput, error) {
	j, ok := s.Get(id)
	if !ok {
		return LiveOutput{}, fmt.Errorf("%w: %s", ErrUnknownJob, id)
	}
	if !slices.ContainsFunc(j.Executions, func(x state.Execution) bool { return x.Node == node }) {
		return LiveOutput{}, fmt.Errorf("%w: %s of %s", ErrNotExecutor, node, id)
	}
	req := outputRequest{JobID: id, Stdout: stdoutFrom, Stderr: stderrFrom}
	if err := req.check(); err != nil {
		return LiveOutput{}, err
	}
	out, err := s.cfg.Transport.Request(ctx, node, protoOutput, encode(req))
	if err != nil {
		return LiveOutput{}, fmt.Errorf("output of %s from %s: %w", id, node, err)
	}
	resp, err := decode(out, (*outputResponse).check)
	if err != nil {
		return LiveOutput{}, fmt.Errorf("output of %s from %s: %w", id, node, err)
	}
	return LiveOutput(resp), nil
}
