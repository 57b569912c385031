package state

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipdm/ipdm/jobs/spec"
	"github.com/ipdm/ipdm/verify"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// The scripts in testdata/*.txt drive the state machine, in the style of
// etcd-raft's interaction tests. Each block is a command, a "----" line and
// the expected output, ended by a blank line. Run with -update to rewrite
// the expected output after checking the differences by hand.
//
// Commands (nodes, results and inputs are short names; the script maps them
// to peer IDs, CIDs and keys, and back in the output):
//
//	new [replicas=N] [quorum=N] [inputs=a,b] [queue=D] [exec=D] [total=D] [memory=S]
//	    [roles=r,..] [labels=k:v,..] [window=D] [retry=D] [attempts=N]
//	    [backoff=D] [reveal=D] [maxbids=N] [maxhistory=N] [module=name@v]
//	submit | tick D | wake | cancel [reason=..] | history | show
//	bid NODE [has=in,..] [slots=N] [load=F] [latency=D] [rep=F] [mem=S]
//	    [roles=..] [labels=..] [quarantined]
//	    (free slots default to 1, reputation to 0.5, and latency to 10ms
//	    times the position of the node name's first letter in the
//	    alphabet, so that otherwise equal bids rank alphabetically)
//	decline NODE [reason=..] [busy]
//	ack NODE
//	fail NODE [job] [reason=..]
//	commit NODE result=R | commit NODE bad
//	reveal NODE [result=R] [salt=wrong] [receipt=none|unsigned|other-node|other-job|other-result|other-inputs|other-module|job-error]
//	providers [NODE=in,..]... (the answer of the DHT provider lookup)
//	bidsin [round=N] (every node asked in the round answered; default the current round)
var update = flag.Bool("update", false, "rewrite testdata scripts with the actual output")

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func nameCID(t testing.TB, name string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte("state test "+name), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

func nodeKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("state test node " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func nodeID(t testing.TB, name string) string {
	id, err := verify.PeerIDFromPublicKey(nodeKey(name).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type commitInfo struct {
	result cid.Cid
	salt   []byte
}

type script struct {
	t       *testing.T
	job     Job
	have    bool
	now     time.Time
	names   map[string]string // peer ID or CID string -> short name
	commits map[string]commitInfo
	module  cid.Cid
}

func (s *script) node(name string) string {
	id := nodeID(s.t, name)
	s.names[id] = name
	return id
}

func (s *script) cid(name string) cid.Cid {
	c := nameCID(s.t, name)
	s.names[c.String()] = name
	return c
}

// short replaces peer IDs and CIDs with their names, and times with offsets.
func (s *script) short(str string) string {
	for long, name := range s.names {
		str = strings.ReplaceAll(str, long, name)
	}
	return str
}

func (s *script) rel(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return "+" + t.Sub(t0).String()
}

type args struct {
	pos []string
	kv  map[string]string
}

func parseArgs(t *testing.T, fields []string) args {
	a := args{kv: map[string]string{}}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			a.kv[k] = strings.Trim(v, `"`)
		} else {
			a.pos = append(a.pos, f)
		}
	}
	return a
}

// tokenize splits on spaces outside double quotes.
func tokenize(line string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case r == ' ' && !quoted:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func (a args) dur(t *testing.T, k string) time.Duration {
	v, ok := a.kv[k]
	if !ok {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%s: %v", k, v, err)
	}
	return d
}

func (a args) int(t *testing.T, k string) int {
	v, ok := a.kv[k]
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%s: %v", k, v, err)
	}
	return n
}

func (a args) list(k string) []string {
	if v, ok := a.kv[k]; ok && v != "" {
		return strings.Split(v, ",")
	}
	return nil
}

func (a args) labels(k string) map[string]string {
	var m map[string]string
	for _, kv := range a.list(k) {
		key, val, _ := strings.Cut(kv, ":")
		if m == nil {
			m = map[string]string{}
		}
		m[key] = val
	}
	return m
}

func (a args) has(flag string) bool { return slices.Contains(a.pos, flag) }

func (s *script) run(cmd string, a args) string {
	t := s.t
	if cmd == "new" {
		return s.newJob(a)
	}
	if !s.have {
		t.Fatalf("%s before new", cmd)
	}
	var ev Event
	switch cmd {
	case "submit":
		ev = Submitted{}
	case "tick":
		d, err := time.ParseDuration(a.pos[0])
		if err != nil {
			t.Fatal(err)
		}
		s.now = s.now.Add(d)
		ev = Timeout{}
	case "wake":
		w := s.job.Wake()
		if w.IsZero() {
			return "nothing to wait for\n"
		}
		if w.After(s.now) {
			s.now = w
		}
		ev = Timeout{}
	case "cancel":
		ev = Cancel{Reason: a.kv["reason"]}
	case "bid":
		c := Candidate{
			Node: s.node(a.pos[0]), FreeSlots: 1, Reputation: 0.5,
			Roles: a.list("roles"), Labels: a.labels("labels"), Quarantined: a.has("quarantined"),
			Latency: a.dur(t, "latency"),
		}
		if _, ok := a.kv["latency"]; !ok {
			// Equal bids rank alphabetically: a is nearest.
			c.Latency = time.Duration(strings.ToLower(a.pos[0])[0]-'a'+1) * 10 * time.Millisecond
		}
		for _, h := range a.list("has") {
			c.Has = append(c.Has, s.cid(h))
		}
		if _, ok := a.kv["slots"]; ok {
			c.FreeSlots = a.int(t, "slots")
		}
		if v, ok := a.kv["load"]; ok {
			c.Load, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := a.kv["rep"]; ok {
			c.Reputation, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := a.kv["mem"]; ok {
			z, err := spec.ParseSize(v)
			if err != nil {
				t.Fatal(err)
			}
			c.FreeMemory = uint64(z)
		}
		ev = BidReceived{Bid: c}
	case "decline":
		ev = Declined{Node: s.node(a.pos[0]), Reason: a.kv["reason"], Busy: a.has("busy")}
	case "ack":
		ev = Assigned{Node: s.node(a.pos[0])}
	case "fail":
		ev = ExecutorFailed{Node: s.node(a.pos[0]), Reason: a.kv["reason"], IsJobError: a.has("job")}
	case "commit":
		node := s.node(a.pos[0])
		if a.has("bad") {
			ev = Committed{Node: node, Commitment: []byte("short")}
			break
		}
		res := s.cid(a.kv["result"])
		salt := sha256.Sum256([]byte("salt " + a.pos[0]))
		s.commits[a.pos[0]] = commitInfo{res, salt[:]}
		ev = Committed{Node: node, Commitment: verify.Commit(res, salt[:], node, s.job.ID)}
	case "reveal":
		ev = s.reveal(a)
	case "providers":
		found := map[string][]cid.Cid{}
		for name := range a.kv {
			for _, in := range a.list(name) {
				found[s.node(name)] = append(found[s.node(name)], s.cid(in))
			}
		}
		ev = ProvidersFound{Providers: found}
	case "bidsin":
		round := s.job.BidRound
		if _, ok := a.kv["round"]; ok {
			round = a.int(t, "round")
		}
		ev = BidsComplete{Round: round}
	case "history":
		var b strings.Builder
		for _, e := range s.job.History {
			fmt.Fprintf(&b, "%s %s", s.rel(e.At), e.Kind)
			if e.Node != "" {
				fmt.Fprintf(&b, " %s", s.short(e.Node))
			}
			if e.Detail != "" {
				fmt.Fprintf(&b, ": %s", s.short(e.Detail))
			}
			b.WriteString("\n")
		}
		if s.job.HistoryDropped > 0 {
			fmt.Fprintf(&b, "(%d older entries dropped)\n", s.job.HistoryDropped)
		}
		return b.String()
	case "show":
		return s.show(true)
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	return s.step(ev)
}

func (s *script) newJob(a args) string {
	t := s.t
	sp := spec.Spec{
		APIVersion: spec.APIVersion, Kind: spec.KindJob,
		Replicas: a.int(t, "replicas"), Quorum: a.int(t, "quorum"),
		Resources: spec.Resources{Timeouts: spec.Timeouts{
			Queue: a.dur(t, "queue"), Execution: a.dur(t, "exec"), Total: a.dur(t, "total"),
		}},
		Constraints: spec.Constraints{Roles: a.list("roles"), Labels: a.labels("labels")},
	}
	if v, ok := a.kv["memory"]; ok {
		z, err := spec.ParseSize(v)
		if err != nil {
			t.Fatal(err)
		}
		sp.Resources.Memory = z
	}
	s.module = s.cid("mod")
	var module cid.Cid
	if v, ok := a.kv["module"]; ok {
		m, err := spec.ParseModule(v)
		if err != nil {
			t.Fatal(err)
		}
		sp.Module, module = m, s.module
	} else {
		sp.Module = spec.Module{CID: s.module}
	}
	for _, in := range a.list("inputs") {
		sp.Inputs = append(sp.Inputs, spec.Input{CID: s.cid(in), Name: in})
	}
	p := Policy{
		BidWindow: a.dur(t, "window"), BidRetry: a.dur(t, "retry"), MaxAttempts: a.int(t, "attempts"),
		Backoff: a.dur(t, "backoff"), RevealTimeout: a.dur(t, "reveal"), MaxBids: a.int(t, "maxbids"),
		MaxHistory: a.int(t, "maxhistory"),
	}
	s.now = t0
	j, err := New(Params{ID: "job-1", Spec: sp, Module: module, Policy: p}, s.now)
	if err != nil {
		return "error: " + s.short(err.Error()) + "\n"
	}
	s.job, s.have = j, true
	return s.show(false)
}

func (s *script) reveal(a args) Event {
	t := s.t
	name := a.pos[0]
	node := s.node(name)
	ci, ok := s.commits[name]
	if !ok {
		ci = commitInfo{s.cid("R1"), make([]byte, 32)}
	}
	res, salt := ci.result, ci.salt
	if r, ok := a.kv["result"]; ok {
		res = s.cid(r)
	}
	if a.kv["salt"] == "wrong" {
		salt = bytes.Repeat([]byte{9}, 32)
	}
	r := verify.Receipt{
		JobID: s.job.ID, ModuleCID: s.job.Module, InputCIDs: s.job.Spec.InputCIDs(),
		ResultCID: res, FuelUsed: 1000, Time: s.now,
	}
	key := nodeKey(name)
	switch a.kv["receipt"] {
	case "", "unsigned":
	case "none":
		return Revealed{Node: node, Result: res, Salt: salt}
	case "other-node":
		key = nodeKey(name + "-other")
	case "other-job":
		r.JobID = "job-2"
	case "other-result":
		r.ResultCID = s.cid("R9")
	case "other-inputs":
		r.InputCIDs = append(r.InputCIDs, s.cid("extra"))
	case "other-module":
		r.ModuleCID = s.cid("other-mod")
	case "job-error":
		r.Error = "trap: unreachable"
	default:
		t.Fatalf("unknown receipt kind %q", a.kv["receipt"])
	}
	signed, err := verify.Sign(r, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.kv["receipt"] == "unsigned" {
		signed.Signature = nil
	}
	if a.kv["receipt"] == "other-node" {
		s.names[signed.NodeID] = name + "-other"
	}
	return Revealed{Node: node, Result: res, Salt: salt, Receipt: &signed}
}

func (s *script) step(ev Event) string {
	t := s.t
	before, err := json.Marshal(s.job)
	if err != nil {
		t.Fatal(err)
	}
	j, actions, err := Step(s.job, ev, s.now)
	after, _ := json.Marshal(s.job)
	if !bytes.Equal(before, after) {
		t.Fatal("Step modified its input job")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "@%s\n", s.rel(s.now))
	if err != nil {
		if len(actions) != 0 {
			t.Fatal("Step returned actions with an error")
		}
		fmt.Fprintf(&b, "error: %s\n", s.short(err.Error()))
		return b.String()
	}
	for _, a := range actions {
		fmt.Fprintf(&b, "> %s\n", s.short(s.action(a)))
	}
	if _, ok := ev.(Timeout); ok {
		if w := j.Wake(); !w.IsZero() && !w.After(s.now) {
			t.Fatalf("after a timeout at %s the job still wakes at %s", s.rel(s.now), s.rel(w))
		}
	}
	// Persist and resume on every step.
	enc, err := json.Marshal(j)
	if err != nil {
		t.Fatalf("marshal job: %v", err)
	}
	back, err := DecodeJob(enc)
	if err != nil {
		t.Fatalf("DecodeJob: %v\n%s", err, enc)
	}
	enc2, _ := json.Marshal(back)
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("job JSON not stable:\n%s\n%s", enc, enc2)
	}
	s.job = back
	b.WriteString(s.show(false))
	return b.String()
}

func (s *script) action(a Action) string {
	switch a := a.(type) {
	case FindProviders:
		return fmt.Sprintf("find-providers %v until=%s", a.Inputs, s.rel(a.Until))
	case AskBids:
		return fmt.Sprintf("ask-bids round=%d need=%d until=%s exclude=%v", a.Round, a.Need, s.rel(a.Until), a.Exclude)
	case Assign:
		return fmt.Sprintf("assign %s slot=%d attempt=%d module=%s deadline=%s", a.Node, a.Slot, a.Attempt, a.Module, s.rel(a.Deadline))
	case Reassign:
		return fmt.Sprintf("reassign %s slot=%d attempt=%d at=%s", a.Node, a.Slot, a.Attempt, s.rel(a.At))
	case RequestReveal:
		return fmt.Sprintf("request-reveal %v deadline=%s", a.Nodes, s.rel(a.Deadline))
	case Accept:
		return fmt.Sprintf("accept %s agreeing=%v dissenting=%v", a.Result, a.Agreeing, a.Dissenting)
	case Fail:
		return fmt.Sprintf("fail %q", a.Reason)
	case StopExecution:
		return fmt.Sprintf("stop %s: %s", a.Node, a.Reason)
	case Verdict:
		return fmt.Sprintf("verdict %s %s: %s", a.Node, a.Observation, a.Reason)
	}
	s.t.Fatalf("unknown action %T", a)
	return ""
}

// show summarises the job in one line, or in full.
func (s *script) show(full bool) string {
	j := s.job
	var b strings.Builder
	fmt.Fprintf(&b, "= %s wake=%s", j.Phase, s.rel(j.Wake()))
	if j.Reason != "" {
		fmt.Fprintf(&b, " reason=%q", s.short(j.Reason))
	}
	b.WriteString(" slots=[")
	for i, sl := range j.Slots {
		if i > 0 {
			b.WriteString(" ")
		}
		switch {
		case sl.Dead:
			b.WriteString("dead")
		case sl.Exec < 0 && s.now.Before(sl.NotBefore):
			fmt.Fprintf(&b, "wait@%s", s.rel(sl.NotBefore))
		case sl.Exec < 0:
			last := ""
			for _, x := range j.Executions {
				if x.Slot == i {
					last = fmt.Sprintf("(%s:%s)", s.short(x.Node), x.State)
				}
			}
			b.WriteString("-" + last)
		default:
			x := j.Executions[sl.Exec]
			fmt.Fprintf(&b, "%s:%s", s.short(x.Node), x.State)
		}
	}
	b.WriteString("]")
	if len(j.Bids) > 0 {
		var bids []string
		for _, c := range j.Bids {
			bids = append(bids, s.short(c.Node))
		}
		fmt.Fprintf(&b, " bids=%v", bids)
	}
	if j.Result.Defined() {
		fmt.Fprintf(&b, " result=%s", s.short(j.Result.String()))
	}
	b.WriteString("\n")
	if full {
		for _, x := range j.Executions {
			fmt.Fprintf(&b, "  %s slot=%d attempt=%d %s", s.short(x.Node), x.Slot, x.Attempt, x.State)
			if x.Reason != "" {
				fmt.Fprintf(&b, " (%s)", s.short(x.Reason))
			}
			b.WriteString("\n")
		}
		if len(j.Declined) > 0 {
			var d []string
			for _, n := range j.Declined {
				d = append(d, s.short(n))
			}
			fmt.Fprintf(&b, "  declined=%v\n", d)
		}
	}
	return b.String()
}

func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

func runScript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &script{t: t, names: map[string]string{}, commits: map[string]commitInfo{}}
	lines := strings.Split(string(data), "\n")
	var out strings.Builder
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			out.WriteString(line + "\n")
			continue
		}
		// A command, "----", then the expected output up to a blank line.
		cmdLine := line
		start := i + 1
		if start >= len(lines) || lines[start] != "----" {
			t.Fatalf("%s:%d: command without ---- line", file, i+1)
		}
		end := start + 1
		for end < len(lines) && lines[end] != "" {
			end++
		}
		want := strings.Join(lines[start+1:end], "\n")
		if want != "" {
			want += "\n"
		}
		fields := tokenize(cmdLine)
		got := s.run(fields[0], parseArgs(t, fields[1:]))
		if got != want && !*update {
			t.Errorf("%s:%d: %s\n--- got\n%s--- want\n%s", file, i+1, cmdLine, got, want)
		}
		out.WriteString(cmdLine + "\n----\n" + got)
		i = end - 1
	}
	if *update {
		res := strings.TrimRight(out.String(), "\n") + "\n"
		if err := os.WriteFile(file, []byte(res), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
