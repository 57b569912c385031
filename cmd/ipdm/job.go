package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ipdm/ipdm/api"
	"github.com/ipdm/ipdm/verify"
)

func cmdJob(ctx context.Context, e env) error {
	if len(e.args) == 0 {
		return usagef("job needs run, list, describe, logs, get, cancel, receipts, verify or reputation")
	}
	sub, rest := e.args[0], e.args[1:]
	switch sub {
	case "run":
		return jobRun(ctx, e, rest)
	case "verify":
		return jobVerify(e, rest)
	case "list", "describe", "cancel", "receipts", "logs", "get", "reputation":
	default:
		return usagef("unknown job command %q", sub)
	}
	f := newFlags("job "+sub, e)
	out := f.String("o", "", "job get: where to save the result directory (default: the result CID)")
	follow := f.Bool("follow", false, "job logs: keep streaming until the job ends")
	args, err := f.parse(rest)
	if err != nil {
		return err
	}
	noArgs := sub == "list" || sub == "reputation"
	if noArgs != (len(args) == 0) || len(args) > 1 {
		return usagef("job %s takes %s", sub, map[bool]string{true: "no arguments", false: "one job ID"}[noArgs])
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "reputation":
		return jobReputation(ctx, e, b, f.json)
	case "list":
		jobs, err := b.JobList(ctx)
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, jobs)
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "JOB\tSTATE\tREPLICAS\tRESULT")
		for _, j := range jobs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", j.ID, j.State, j.Replicas, j.Result)
		}
		return tw.Flush()
	case "logs":
		return jobLogs(ctx, e, b, args[0], *follow, f.json)
	case "describe":
		j, err := b.JobDescribe(ctx, args[0])
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, j)
		}
		printJob(e.stdout, j)
		for _, h := range j.History {
			fmt.Fprintf(e.stdout, "%s %-14s %s %s\n", h.At.Format("15:04:05.000"), h.Kind, shortID(h.Node), h.Detail)
		}
		return nil
	case "get":
		j, err := b.JobDescribe(ctx, args[0])
		if err != nil {
			return err
		}
		if j.Result == "" {
			return fmt.Errorf("job %s is %s and has no accepted result yet", j.ID, j.State)
		}
		if *out == "" {
			*out = j.Result
		}
		if err := b.GetTo(ctx, j.Result, f.timeout, *out, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "saved result %s of job %s to %s\n", j.Result, j.ID, *out)
		return nil
	case "cancel":
		j, err := b.JobCancel(ctx, args[0])
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(e.stdout, j)
		}
		fmt.Fprintf(e.stdout, "job %s %s\n", j.ID, j.State)
		return nil
	}
	rs, err := b.JobReceipts(ctx, args[0])
	if err != nil {
		return err
	}
	return printJSON(e.stdout, rs)
}

func shortID(id string) string {
	if len(id) > 16 {
		return "…" + id[len(id)-8:]
	}
	return id
}

func printJob(w io.Writer, j api.Job) {
	fmt.Fprintf(w, "job:      %s\nstate:    %s %s\nmodule:   %s\nreplicas: %d (quorum %d)\n", j.ID, j.State, j.Reason, j.Module, j.Replicas, j.Quorum)
	if j.Result != "" {
		fmt.Fprintf(w, "result:   %s\n", j.Result)
	}
	if j.ExitCode != nil {
		fmt.Fprintf(w, "exit:     %d\n", *j.ExitCode)
	}
	if len(j.Agreeing)+len(j.Dissenting) > 0 {
		fmt.Fprintf(w, "agreeing: %d nodes, dissenting: %d %v\n", len(j.Agreeing), len(j.Dissenting), j.Dissenting)
	}
	for _, x := range j.Executions {
		standing := fmt.Sprintf("reputation %.2f", x.Reputation)
		if x.Quarantined {
			standing += " QUARANTINED"
		}
		fmt.Fprintf(w, "  %s  %-9s attempt %d (%s) %s %s\n", x.Node, x.State, x.Attempt, standing, x.Result, x.Reason)
	}
	if j.Stdout != "" {
		fmt.Fprintf(w, "stdout:\n%s", j.Stdout)
		if !strings.HasSuffix(j.Stdout, "\n") {
			fmt.Fprintln(w)
		}
	}
}

func jobRun(ctx context.Context, e env, rest []string) error {
	f := newFlags("job run", e)
	module := f.String("module", "", "module CID or name@version")
	var inputs stringList
	f.Var(&inputs, "input", "input CID (repeatable)")
	replicas := f.Int("replicas", 1, "run on this many distinct nodes")
	quorum := f.Int("quorum", 0, "how many must agree (default: a majority of the replicas)")
	fuel := f.Uint64("fuel", 0, "instruction budget (default: the spec default)")
	specFile := f.String("f", "", "job spec file (YAML or JSON) instead of flags")
	wait := f.Bool("wait", false, "wait until the job has ended")
	follow := f.Bool("follow", false, "print the job's history as it happens until it ends")
	idOnly := f.Bool("id-only", false, "print only the job ID")
	dryRun := f.Bool("dry-run", false, "print the spec that would be submitted and stop")
	args, err := f.parse(rest)
	if err != nil {
		return err
	}
	var spec []byte
	if *specFile != "" {
		if *module != "" || len(inputs) > 0 || len(args) > 0 {
			return usagef("-f takes the whole job from the file; drop --module, --input and arguments")
		}
		if spec, err = os.ReadFile(*specFile); err != nil {
			return err
		}
	} else {
		if *module == "" {
			return usagef("job run needs --module CID|NAME@VERSION (or -f spec.yaml)")
		}
		doc := map[string]any{"apiVersion": "ipdm/v1", "kind": "Job", "module": *module, "replicas": *replicas}
		if *quorum > 0 {
			doc["quorum"] = *quorum
		}
		if len(inputs) > 0 {
			doc["inputs"] = []string(inputs)
		}
		if len(args) > 0 {
			doc["args"] = args
		}
		if *fuel > 0 {
			doc["resources"] = map[string]any{"fuel": *fuel}
		}
		if spec, err = json.MarshalIndent(doc, "", "  "); err != nil {
			return err
		}
	}
	if *dryRun {
		_, err := e.stdout.Write(append(spec, '\n'))
		return err
	}
	b, ctx, done, err := f.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	j, err := b.JobSubmit(ctx, spec, *wait && !*follow)
	if err != nil {
		return err
	}
	if *follow {
		if j, err = followJob(ctx, e.stdout, b, j.ID); err != nil {
			return err
		}
		*wait = true
	}
	switch {
	case *idOnly:
		fmt.Fprintln(e.stdout, j.ID)
	case f.json:
		return printJSON(e.stdout, j)
	default:
		printJob(e.stdout, j)
	}
	if *wait && j.State != "completed" {
		return fmt.Errorf("job %s %s: %s", j.ID, j.State, j.Reason)
	}
	return nil
}

// jobVerify checks receipts offline: signatures, and that each was signed
// by the node it names.
func jobVerify(e env, rest []string) error {
	f := newFlags("job verify", e)
	args, err := f.parse(rest)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("job verify takes one receipts file (JSON: one receipt or a list; - for stdin)")
	}
	var data []byte
	if args[0] == "-" {
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(args[0])
	}
	if err != nil {
		return err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		raws = []json.RawMessage{data}
	}
	bad := 0
	for i, raw := range raws {
		r, err := verify.DecodeReceipt(raw)
		if err == nil {
			err = verify.Verify(r)
		}
		if err != nil {
			bad++
			fmt.Fprintf(e.stdout, "receipt %d: INVALID: %v\n", i, err)
			continue
		}
		fmt.Fprintf(e.stdout, "receipt %d: valid: job %s node %s result %s fuel %d exit %d\n", i, r.JobID, r.NodeID, r.ResultCID, r.FuelUsed, r.ExitCode)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d receipts failed verification", bad, len(raws))
	}
	return nil
}

// followJob prints a job's history as it grows until the job ends.
func followJob(ctx context.Context, w io.Writer, b backend, id string) (api.Job, error) {
	shown := 0
	for {
		j, err := b.JobDescribe(ctx, id)
		if err != nil {
			return j, err
		}
		for _, h := range j.History[min(shown, len(j.History)):] {
			fmt.Fprintf(w, "%s %-14s %s %s\n", h.At.Format("15:04:05.000"), h.Kind, shortID(h.Node), h.Detail)
		}
		shown = len(j.History)
		if j.State == "completed" || j.State == "failed" || j.State == "cancelled" {
			return j, nil
		}
		select {
		case <-ctx.Done():
			return j, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// reputationBackend is a backend that reports executor reputation.
type reputationBackend interface {
	JobReputation(ctx context.Context) ([]api.NodeReputation, error)
}

func (l local) JobReputation(ctx context.Context) ([]api.NodeReputation, error) {
	return l.n.JobReputation(ctx)
}

// jobReputation prints the coordinator's view of every executor: score,
// the decayed counts behind it, and quarantine.
func jobReputation(ctx context.Context, e env, b backend, asJSON bool) error {
	rb, ok := b.(reputationBackend)
	if !ok {
		return errors.New("job reputation: this backend keeps no reputation")
	}
	rs, err := rb.JobReputation(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(e.stdout, rs)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSCORE\tAGREED\tDISAGREED\tFAILED\tQUARANTINE")
	for _, r := range rs {
		q := "-"
		switch {
		case r.Quarantined:
			q = "until " + r.QuarantinedUntil.Local().Format(time.DateTime)
		case r.Quarantines > 0:
			q = fmt.Sprintf("released (%d so far)", r.Quarantines)
		}
		node := r.Node
		if !r.Peer {
			node += " (gone)"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.1f\t%.1f\t%.1f\t%s\n", node, r.Score, r.Agreements, r.Disagreements, r.Failures, q)
	}
	return tw.Flush()
}

// logsBackend is a backend that streams job logs.
type logsBackend interface {
	JobLogs(ctx context.Context, id string, follow bool, fn func(api.JobLogEntry) error) error
}

func (l local) JobLogs(ctx context.Context, id string, follow bool, fn func(api.JobLogEntry) error) error {
	return l.n.JobLogs(ctx, id, follow, fn)
}

// jobLogs prints a job's log: history lines, then the accepted result's
// stdout (to stdout) and stderr (to stderr), then how the job ended; with
// follow, as it happens until the job ends, with the executors' live
// output as their modules write it (each line prefixed with the node when
// the job has more than one executor).
func jobLogs(ctx context.Context, e env, b backend, id string, follow, asJSON bool) error {
	lb, ok := b.(logsBackend)
	if !ok {
		return errors.New("job logs: this backend keeps no job logs")
	}
	enc := json.NewEncoder(e.stdout)
	executors := map[string]bool{}
	live := map[[2]string]*linePrefixer{} // by node and stream
	return lb.JobLogs(ctx, id, follow, func(l api.JobLogEntry) error {
		if asJSON {
			return enc.Encode(l)
		}
		var err error
		switch l.Kind {
		case "event":
			h := l.Event
			if h.Kind == "assign" && h.Node != "" {
				executors[h.Node] = true
			}
			_, err = fmt.Fprintf(e.stdout, "%s %-14s %s %s\n", h.At.Format("15:04:05.000"), h.Kind, shortID(h.Node), h.Detail)
		case "stdout", "stderr":
			w := e.stdout
			if l.Kind == "stderr" {
				w = e.stderr
			}
			if l.Node == "" || len(executors) < 2 {
				_, err = w.Write(l.Data)
				break
			}
			k := [2]string{l.Node, l.Kind}
			if live[k] == nil {
				live[k] = &linePrefixer{w: w, prefix: "[" + shortID(l.Node) + "] ", atStart: true}
			}
			_, err = live[k].Write(l.Data)
		case "end":
			_, err = fmt.Fprintf(e.stdout, "job %s %s %s\n", id, l.State, l.Reason)
		}
		return err
	})
}

// linePrefixer writes prefix before each line it writes.
type linePrefixer struct {
	w       io.Writer
	prefix  string
	atStart bool
}

func (p *linePrefixer) Write(b []byte) (int, error) {
	n := len(b)
	var out []byte
	for len(b) > 0 {
		if p.atStart {
			out = append(out, p.prefix...)
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out, b, p.atStart = append(out, b...), nil, false
			break
		}
		out, b, p.atStart = append(out, b[:i+1]...), b[i+1:], true
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}
