package spec

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// testCID returns a CIDv1 raw/sha2-256 of s.
func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// testCIDv0 returns the CIDv0 of s (a dag-pb CID in base58).
func testCIDv0(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV0(h)
}

// doc substitutes $M (module), $A and $B (inputs) with test CIDs.
func doc(t testing.TB, s string) []byte {
	t.Helper()
	r := strings.NewReplacer("$M", testCID(t, "module").String(), "$A", testCID(t, "a").String(), "$B", testCID(t, "b").String())
	return []byte(r.Replace(s))
}

const fullYAML = `
apiVersion: ipdm/v1
kind: Job
module: $M
inputs:
  - cid: $A
    name: corpus.txt
  - $B
args: [--top, 10, "x y"]
env:
  LANG: C
  DEBUG: 1
resources:
  memory: 128MiB
  fuel: 1000000
  timeouts:
    queue: 30s
    execution: 2m
    total: 10m
replicas: 3
quorum: 2
constraints:
  labels: {region: eu-west, tier: gold}
  roles: [processing, storage]
publisher:
  local: true
  pin_on: 2
seed: 18446744073709551615
`

func fullSpec(t testing.TB) Spec {
	seed := uint64(18446744073709551615)
	return Spec{
		APIVersion: APIVersion,
		Kind:       KindJob,
		Module:     Module{CID: testCID(t, "module")},
		Inputs:     []Input{{CID: testCID(t, "a"), Name: "corpus.txt"}, {CID: testCID(t, "b")}},
		Args:       []string{"--top", "10", "x y"},
		Env:        map[string]string{"LANG": "C", "DEBUG": "1"},
		Resources: Resources{
			Memory: 128 * MiB, Fuel: 1000000,
			Timeouts: Timeouts{Queue: 30 * time.Second, Execution: 2 * time.Minute, Total: 10 * time.Minute},
		},
		Replicas:    3,
		Quorum:      2,
		Constraints: Constraints{Labels: map[string]string{"region": "eu-west", "tier": "gold"}, Roles: []string{"processing", "storage"}},
		Publisher:   Publisher{Local: true, PinOn: 2},
		Seed:        &seed,
	}
}

func TestDecodeValid(t *testing.T) {
	full := fullSpec(t)
	cases := []struct {
		name string
		in   string
		want Spec
	}{
		{"full yaml", fullYAML, full},
		{"minimal yaml", "apiVersion: ipdm/v1\nkind: Job\nmodule: $M\n",
			Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{CID: testCID(t, "module")}}},
		{"minimal json", `{"apiVersion":"ipdm/v1","kind":"Job","module":"$M"}`,
			Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{CID: testCID(t, "module")}}},
		{"module by name", "apiVersion: ipdm/v1\nkind: Job\nmodule: tools/word-count@1.2.0-rc.1+build.5\n",
			Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{Name: "tools/word-count", Version: "1.2.0-rc.1+build.5"}}},
		{"nulls are absent", "apiVersion: ipdm/v1\nkind: Job\nmodule: $M\ninputs: ~\nenv:\nseed: null\nresources: {timeouts: ~}\n",
			Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{CID: testCID(t, "module")}}},
		{"json with all fields", `{
			"apiVersion": "ipdm/v1", "kind": "Job", "module": "$M",
			"inputs": [{"cid": "$A", "name": "corpus.txt"}, {"cid": "$B"}],
			"args": ["--top", 10, "x y"], "env": {"LANG": "C", "DEBUG": "1"},
			"resources": {"memory": "128 mib", "fuel": 1000000, "timeouts": {"queue": "30s", "execution": "2m", "total": "10m"}},
			"replicas": 3, "quorum": 2,
			"constraints": {"labels": {"region": "eu-west", "tier": "gold"}, "roles": ["processing", "storage"]},
			"publisher": {"local": true, "pin_on": 2}, "seed": 18446744073709551615}`, full},
		{"memory in bytes", "apiVersion: ipdm/v1\nkind: Job\nmodule: $M\nresources: {memory: 65536}\n",
			Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{CID: testCID(t, "module")}, Resources: Resources{Memory: 64 * KiB}}},
		{"flow yaml that is not json", "{apiVersion: ipdm/v1, kind: Job, module: $M}",
			Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{CID: testCID(t, "module")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(doc(t, tc.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = "apiVersion: ipdm/v1\nkind: Job\nmodule: $M\n"
	cases := []struct {
		name   string
		in     string
		path   string
		detail string // substring of the detail
		line   int    // expected line, 0 = don't check
	}{
		{"bad size", head + "resources:\n  memory: 12QB\n", "spec.resources.memory", `"12QB" is not a size`, 5},
		{"fractional bytes", head + "resources: {memory: 1.5B}\n", "spec.resources.memory", "not a whole number of bytes", 0},
		{"size overflow", head + "resources: {memory: 99999EiB}\n", "spec.resources.memory", "too large", 0},
		{"memory too small", head + "resources: {memory: 1KiB}\n", "spec.resources.memory", "outside 64KiB..4GiB", 0},
		{"memory too large", head + "resources: {memory: 5GiB}\n", "spec.resources.memory", "outside", 0},
		{"memory bool", head + "resources: {memory: true}\n", "spec.resources.memory", "must be a number of bytes", 0},
		{"negative memory", head + "resources: {memory: -5}\n", "spec.resources.memory", "not a non-negative decimal integer", 0},
		{"fuel string", head + "resources: {fuel: lots}\n", "spec.resources.fuel", "must be an integer", 0},
		{"fuel hex", head + "resources: {fuel: 0x10}\n", "spec.resources.fuel", "not a non-negative decimal integer", 0},
		{"fuel overflow", head + "resources: {fuel: 18446744073709551616}\n", "spec.resources.fuel", "out of range", 0},
		{"bad duration", head + "resources: {timeouts: {queue: soon}}\n", "spec.resources.timeouts.queue", `"soon" is not a duration`, 0},
		{"duration as number", head + "resources: {timeouts: {execution: 30}}\n", "spec.resources.timeouts.execution", "must be a duration", 0},
		{"negative duration", head + "resources: {timeouts: {total: -1s}}\n", "spec.resources.timeouts.total", "negative", 0},
		{"duration too long", head + "resources: {timeouts: {total: 200h}}\n", "spec.resources.timeouts.total", "exceeds the limit", 0},
		{"execution over total", head + "resources: {timeouts: {execution: 10m, total: 5m}}\n", "spec.resources.timeouts.execution", "exceeds the total timeout 5m0s", 0},
		{"queue over total", head + "resources: {timeouts: {queue: 10m, total: 5m}}\n", "spec.resources.timeouts.queue", "exceeds the total timeout", 0},
		{"unknown field", head + "replica: 3\n", "spec.replica", "unknown field", 4},
		{"unknown nested field", head + "resources: {cpu: 2}\n", "spec.resources.cpu", "unknown field", 0},
		{"unknown input field", head + "inputs: [{cid: $A, path: x}]\n", "spec.inputs[0].path", "unknown field", 0},
		{"duplicate field", head + "replicas: 3\nreplicas: 4\n", "spec.replicas", "duplicate field", 5},
		{"json duplicate field", `{"apiVersion":"ipdm/v1","kind":"Job","module":"$M","quorum":1,"quorum":1}`, "spec.quorum", "duplicate field", 1},
		{"missing apiVersion", "kind: Job\nmodule: $M\n", "spec.apiVersion", "is required", 1},
		{"missing field located at its mapping", head + "inputs:\n  - name: x\n", "spec.inputs[0].cid", "is required", 5},
		{"wrong apiVersion", "apiVersion: ipdm/v2\nkind: Job\nmodule: $M\n", "spec.apiVersion", `unsupported apiVersion "ipdm/v2"`, 0},
		{"wrong kind", "apiVersion: ipdm/v1\nkind: Pod\nmodule: $M\n", "spec.kind", `unsupported kind "Pod"`, 0},
		{"missing module", "apiVersion: ipdm/v1\nkind: Job\n", "spec.module", "is required", 0},
		{"bad module", "apiVersion: ipdm/v1\nkind: Job\nmodule: nonsense\n", "spec.module", "neither a CID nor name@version", 0},
		{"bad module name", "apiVersion: ipdm/v1\nkind: Job\nmodule: Word_Count@1\n", "spec.module", "module name", 0},
		{"bad module version", "apiVersion: ipdm/v1\nkind: Job\nmodule: wc@-1\n", "spec.module", "module version", 0},
		{"empty module version", "apiVersion: ipdm/v1\nkind: Job\nmodule: wc@\n", "spec.module", "module version", 0},
		{"module list", "apiVersion: ipdm/v1\nkind: Job\nmodule: [a]\n", "spec.module", "must be a string", 0},
		{"bad input cid", head + "inputs: [{cid: nope}]\n", "spec.inputs[0].cid", `"nope" is not a CID`, 0},
		{"bad shorthand input", head + "inputs: [nope]\n", "spec.inputs[0]", `"nope" is not a CID`, 0},
		{"input without cid", head + "inputs: [{name: x}]\n", "spec.inputs[0].cid", "is required", 0},
		{"input list of lists", head + "inputs: [[x]]\n", "spec.inputs[0]", "must be a CID or a mapping", 0},
		{"inputs not list", head + "inputs: {cid: $A}\n", "spec.inputs", "must be a list", 0},
		{"bad input name", head + "inputs: [{cid: $A, name: ../etc}]\n", "spec.inputs[0].name", "not a valid input name", 0},
		{"dot input name", head + "inputs: [{cid: $A, name: .}]\n", "spec.inputs[0].name", "not a valid input name", 0},
		{"duplicate input name", head + "inputs: [{cid: $A, name: x}, {cid: $B, name: x}]\n", "spec.inputs[1].name", "duplicates spec.inputs[0]", 0},
		{"duplicate unnamed input", head + "inputs: [$A, $A]\n", "spec.inputs[1].cid", "duplicates spec.inputs[0]", 0},
		{"arg map", head + "args: [{a: b}]\n", "spec.args[0]", "must be a string", 0},
		{"arg NUL", `{"apiVersion":"ipdm/v1","kind":"Job","module":"$M","args":["a\u0000b"]}`, "spec.args[0]", "NUL", 0},
		{"args not list", head + "args: --x\n", "spec.args", "must be a list", 0},
		{"bad env name", head + "env: {1X: y}\n", "spec.env[\"1X\"]", "not a valid variable name", 0},
		{"env null value", head + "env: {X: ~}\n", "spec.env.X", "not null", 0},
		{"env duplicate", head + "env: {X: a, X: b}\n", "", "", 0}, // yaml.v3 itself rejects duplicate keys
		{"env list", head + "env: [X]\n", "spec.env", "must be a mapping", 0},
		{"replicas zero is default", head + "replicas: -1\n", "spec.replicas", "outside 1..64", 0},
		{"replicas too many", head + "replicas: 65\n", "spec.replicas", "outside 1..64", 0},
		{"replicas float", head + "replicas: 2.5\n", "spec.replicas", "not a decimal integer", 0},
		{"replicas string", head + "replicas: \"3\"\n", "spec.replicas", "must be an integer", 0},
		{"replicas octal-looking", head + "replicas: 03\n", "spec.replicas", "not a decimal integer", 0},
		{"replicas huge", head + "replicas: 99999999999\n", "spec.replicas", "out of range", 0},
		{"quorum over replicas", head + "replicas: 3\nquorum: 4\n", "spec.quorum", "4 exceeds replicas (3)", 0},
		{"quorum over default replicas", head + "quorum: 2\n", "spec.quorum", "2 exceeds replicas (1)", 0},
		{"negative quorum", head + "quorum: -2\n", "spec.quorum", "negative", 0},
		{"unknown role", head + "constraints: {roles: [cooking]}\n", "spec.constraints.roles[0]", `unknown role "cooking"`, 0},
		{"duplicate role", head + "constraints: {roles: [storage, storage]}\n", "spec.constraints.roles[1]", "duplicate role", 0},
		{"bad label key", head + "constraints: {labels: {-x: y}}\n", `spec.constraints.labels["-x"]`, "not a valid label key", 0},
		{"label key with space", head + "constraints: {labels: {\"a b\": y}}\n", `spec.constraints.labels["a b"]`, "not a valid label key", 0},
		{"bad label value", head + "constraints: {labels: {x: \"a\\tb\"}}\n", "spec.constraints.labels.x", "printable", 0},
		{"pin_on negative", head + "publisher: {pin_on: -1}\n", "spec.publisher.pin_on", "outside 0..64", 0},
		{"local not bool", head + "publisher: {local: yes}\n", "spec.publisher.local", "must be true or false", 0},
		{"seed negative", head + "seed: -1\n", "spec.seed", "non-negative", 0},
		{"root is list", "- a\n- b\n", "spec", "must be a mapping", 1},
		{"root is scalar", "hello\n", "spec", "must be a mapping", 1},
		{"empty document", "", "spec", "empty document", 0},
		{"two documents", head + "---\n" + head, "spec", "more than one YAML document", 0},
		{"yaml syntax", "apiVersion: [\n", "spec", "syntax", 0},
		{"json trailing data", `{"apiVersion":"ipdm/v1"} {}`, "spec", "syntax", 0},
		{"alias", "apiVersion: &v ipdm/v1\nkind: Job\nmodule: *v\n", "spec", "aliases are not supported", 0},
		{"merge key", "base: &b {kind: Job}\n<<: *b\n", "spec", "syntax", 0},
		{"custom tag", head + "seed: !secret 5\n", "spec", "unsupported YAML tag", 0},
		{"binary tag", head + "seed: !!binary aGk=\n", "spec", "unsupported YAML tag", 0},
		{"too deep", head + "env: " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n", "spec", "deeper than", 0},
		{"too big", head + "args: [\"" + strings.Repeat("x", MaxEncodedSize) + "\"]\n", "spec", "exceeds the limit", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(doc(t, tc.in))
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("error %v does not match ErrInvalidSpec", err)
			}
			var fe *FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not *FieldErrors", err)
			}
			if tc.path == "" {
				return
			}
			for _, e := range fe.Errors {
				if e.Path == tc.path && strings.Contains(e.Detail, tc.detail) {
					if tc.line != 0 && e.Line != tc.line {
						t.Errorf("line = %d, want %d", e.Line, tc.line)
					}
					return
				}
			}
			t.Fatalf("no error at %s containing %q; got: %v", tc.path, tc.detail, err)
		})
	}
}

func TestDecodeReportsEveryProblem(t *testing.T) {
	in := doc(t, `apiVersion: ipdm/v1
kind: Job
module: nonsense
inputs:
  - cid: nope
  - {cid: $A, name: "a/b"}
resources:
  memory: 12QB
  timeouts: {queue: soon}
replicas: 70
colour: blue
`)
	_, err := Decode(in)
	var fe *FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not *FieldErrors", err)
	}
	want := []struct {
		path string
		line int
	}{
		{"spec.module", 3},
		{"spec.inputs[0].cid", 5},
		{"spec.resources.memory", 8},
		{"spec.resources.timeouts.queue", 9},
		{"spec.colour", 11},
		{"spec.inputs[1].name", 6},
		{"spec.replicas", 10},
	}
	if len(fe.Errors) != len(want) {
		t.Fatalf("got %d errors, want %d: %v", len(fe.Errors), len(want), err)
	}
	for i, w := range want {
		if fe.Errors[i].Path != w.path || fe.Errors[i].Line != w.line {
			t.Errorf("error %d = %s at line %d, want %s at line %d", i, fe.Errors[i].Path, fe.Errors[i].Line, w.path, w.line)
		}
	}
	if msg := err.Error(); !strings.Contains(msg, `spec.resources.memory: "12QB" is not a size`) {
		t.Errorf("message %q lacks the memory problem", msg)
	}
	// A field that failed to decode is not reported again by validation.
	for _, e := range fe.Errors {
		if e.Path == "spec.module" && strings.Contains(e.Detail, "required") {
			t.Errorf("module reported as missing although it was present: %v", err)
		}
	}
}

func TestFieldErrorsTruncated(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: ipdm/v1\nkind: Job\nmodule: $M\ninputs:\n")
	for i := 0; i < MaxFieldErrors+10; i++ {
		fmt.Fprintf(&b, "  - bad%d\n", i)
	}
	_, err := Decode(doc(t, b.String()))
	var fe *FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not *FieldErrors", err)
	}
	if len(fe.Errors) != MaxFieldErrors || fe.Truncated != 10 {
		t.Fatalf("got %d errors + %d truncated, want %d + 10", len(fe.Errors), fe.Truncated, MaxFieldErrors)
	}
	if !strings.HasSuffix(err.Error(), "; and 10 more") {
		t.Errorf("message does not end with the truncation note: %q", err.Error()[len(err.Error())-40:])
	}
}

func TestJSONPositions(t *testing.T) {
	in := doc(t, "{\n  \"apiVersion\": \"ipdm/v1\",\n  \"kind\": \"Job\",\n  \"module\": \"$M\",\n  \"replicas\": \"x\"\n}")
	_, err := Decode(in)
	var fe *FieldErrors
	if !errors.As(err, &fe) || len(fe.Errors) != 1 {
		t.Fatalf("want one field error, got %v", err)
	}
	if e := fe.Errors[0]; e.Path != "spec.replicas" || e.Line != 5 || e.Column != 15 {
		t.Fatalf("got %s at %d:%d, want spec.replicas at 5:15", e.Path, e.Line, e.Column)
	}
}

func TestValidateBuiltSpecs(t *testing.T) {
	base := func() Spec {
		return Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{CID: testCID(t, "m")}}
	}
	cases := []struct {
		name  string
		edit  func(*Spec)
		paths []string // nil = valid
	}{
		{"base", func(*Spec) {}, nil},
		{"full", func(s *Spec) { *s = fullSpec(t) }, nil},
		{"defaults", func(s *Spec) { *s = s.WithDefaults() }, nil},
		{"zero spec", func(s *Spec) { *s = Spec{} }, []string{"spec.apiVersion", "spec.kind", "spec.module"}},
		{"cid and name", func(s *Spec) { s.Module.Name, s.Module.Version = "x", "1" }, []string{"spec.module"}},
		{"undefined input", func(s *Spec) { s.Inputs = []Input{{Name: "x"}} }, []string{"spec.inputs[0].cid"}},
		{"named input shadows cid", func(s *Spec) {
			a := testCID(t, "a")
			s.Inputs = []Input{{CID: a}, {CID: testCID(t, "b"), Name: a.String()}}
		}, []string{"spec.inputs[1].name"}},
		{"same cid twice named", func(s *Spec) {
			a := testCID(t, "a")
			s.Inputs = []Input{{CID: a, Name: "x"}, {CID: a, Name: "y"}}
		}, nil},
		{"too many inputs", func(s *Spec) {
			for i := 0; i <= MaxInputs; i++ {
				s.Inputs = append(s.Inputs, Input{CID: testCID(t, fmt.Sprint(i))})
			}
		}, []string{"spec.inputs"}},
		{"invalid utf8 arg", func(s *Spec) { s.Args = []string{"ok", "\xff"} }, []string{"spec.args[1]"}},
		{"long arg", func(s *Spec) { s.Args = []string{strings.Repeat("a", MaxStringLen+1)} }, []string{"spec.args[0]"}},
		{"empty env name", func(s *Spec) { s.Env = map[string]string{"": "x"} }, []string{`spec.env[""]`}},
		{"env value NUL", func(s *Spec) { s.Env = map[string]string{"A": "\x00"} }, []string{"spec.env.A"}},
		{"too many env", func(s *Spec) {
			s.Env = map[string]string{}
			for i := 0; i <= MaxEnv; i++ {
				s.Env[fmt.Sprintf("V%d", i)] = ""
			}
		}, []string{"spec.env"}},
		{"too many labels", func(s *Spec) {
			s.Constraints.Labels = map[string]string{}
			for i := 0; i <= MaxLabels; i++ {
				s.Constraints.Labels[fmt.Sprintf("l%d", i)] = ""
			}
		}, []string{"spec.constraints.labels"}},
		{"pin_on too many", func(s *Spec) { s.Publisher.PinOn = MaxPinOn + 1 }, []string{"spec.publisher.pin_on"}},
		{"quorum equals replicas", func(s *Spec) { s.Replicas, s.Quorum = 5, 5 }, nil},
		{"quorum below majority", func(s *Spec) { s.Replicas, s.Quorum = 4, 1 }, nil},
		{"total alone caps defaults", func(s *Spec) { s.Resources.Timeouts.Total = 10 * time.Second }, nil},
		{"everything bad", func(s *Spec) {
			s.APIVersion = "x"
			s.Replicas = -3
			s.Quorum = -1
			s.Resources.Memory = 1
		}, []string{"spec.apiVersion", "spec.resources.memory", "spec.replicas", "spec.quorum"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.edit(&s)
			err := s.Validate()
			if tc.paths == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("Validate = %v, want *FieldErrors", err)
			}
			var got []string
			for _, e := range fe.Errors {
				got = append(got, e.Path)
			}
			if !reflect.DeepEqual(got, tc.paths) {
				t.Fatalf("paths = %q, want %q (%v)", got, tc.paths, err)
			}
		})
	}
}

func TestWithDefaults(t *testing.T) {
	m := Module{Name: "m", Version: "1"}
	cases := []struct {
		name string
		in   Spec
		want Spec
	}{
		{"all defaults", Spec{Module: m}, Spec{
			APIVersion: APIVersion, Kind: KindJob, Module: m,
			Resources: Resources{Memory: DefaultMemory, Fuel: DefaultFuel, Timeouts: Timeouts{
				Queue: DefaultQueueTimeout, Execution: DefaultExecutionTimeout, Total: DefaultQueueTimeout + 2*DefaultExecutionTimeout,
			}},
			Replicas: 1, Quorum: 1,
		}},
		{"majority of 4 is 3", Spec{Module: m, Replicas: 4}, Spec{
			APIVersion: APIVersion, Kind: KindJob, Module: m,
			Resources: Resources{Memory: DefaultMemory, Fuel: DefaultFuel, Timeouts: Timeouts{Queue: time.Minute, Execution: 5 * time.Minute, Total: 11 * time.Minute}},
			Replicas:  4, Quorum: 3,
		}},
		{"explicit values kept", Spec{Module: m, Replicas: 5, Quorum: 5, Resources: Resources{Memory: MinMemory, Fuel: 7,
			Timeouts: Timeouts{Queue: time.Second, Execution: 2 * time.Second, Total: time.Hour}}}, Spec{
			APIVersion: APIVersion, Kind: KindJob, Module: m, Replicas: 5, Quorum: 5,
			Resources: Resources{Memory: MinMemory, Fuel: 7, Timeouts: Timeouts{Queue: time.Second, Execution: 2 * time.Second, Total: time.Hour}},
		}},
		{"short total caps queue and execution", Spec{Module: m, Resources: Resources{Timeouts: Timeouts{Total: 30 * time.Second}}}, Spec{
			APIVersion: APIVersion, Kind: KindJob, Module: m, Replicas: 1, Quorum: 1,
			Resources: Resources{Memory: DefaultMemory, Fuel: DefaultFuel, Timeouts: Timeouts{Queue: 30 * time.Second, Execution: 30 * time.Second, Total: 30 * time.Second}},
		}},
		{"long execution stretches total", Spec{Module: m, Resources: Resources{Timeouts: Timeouts{Execution: time.Hour}}}, Spec{
			APIVersion: APIVersion, Kind: KindJob, Module: m, Replicas: 1, Quorum: 1,
			Resources: Resources{Memory: DefaultMemory, Fuel: DefaultFuel, Timeouts: Timeouts{Queue: time.Minute, Execution: time.Hour, Total: 2*time.Hour + time.Minute}},
		}},
		{"total capped at max", Spec{Module: m, Resources: Resources{Timeouts: Timeouts{Queue: MaxTimeout, Execution: MaxTimeout}}}, Spec{
			APIVersion: APIVersion, Kind: KindJob, Module: m, Replicas: 1, Quorum: 1,
			Resources: Resources{Memory: DefaultMemory, Fuel: DefaultFuel, Timeouts: Timeouts{Queue: MaxTimeout, Execution: MaxTimeout, Total: MaxTimeout}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.WithDefaults()
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("WithDefaults:\n got %+v\nwant %+v", got, tc.want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("defaulted spec invalid: %v", err)
			}
		})
	}
	// WithDefaults deep-copies.
	s := fullSpec(t)
	d := s.WithDefaults()
	d.Args[0], d.Env["LANG"], d.Constraints.Roles[0], d.Constraints.Labels["tier"], d.Inputs[0].Name = "x", "x", "x", "x", "x"
	*d.Seed = 1
	if !reflect.DeepEqual(s, fullSpec(t)) {
		t.Fatal("editing the result of WithDefaults changed the original")
	}
}

func TestConstraintsMatch(t *testing.T) {
	c := Constraints{Labels: map[string]string{"region": "eu", "tier": ""}, Roles: []string{"processing", "storage"}}
	cases := []struct {
		name   string
		c      Constraints
		labels map[string]string
		roles  []string
		want   bool
	}{
		{"no constraints", Constraints{}, nil, nil, true},
		{"all present", c, map[string]string{"region": "eu", "tier": "", "extra": "x"}, []string{"gateway", "storage", "processing"}, true},
		{"wrong value", c, map[string]string{"region": "us", "tier": ""}, []string{"storage", "processing"}, false},
		{"missing empty-valued label", c, map[string]string{"region": "eu"}, []string{"storage", "processing"}, false},
		{"missing role", c, map[string]string{"region": "eu", "tier": ""}, []string{"processing"}, false},
	}
	for _, tc := range cases {
		if got := tc.c.Match(tc.labels, tc.roles); got != tc.want {
			t.Errorf("%s: Match = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want Size
		err  string
	}{
		{"0", 0, ""},
		{"4096", 4096, ""},
		{"64MiB", 64 << 20, ""},
		{"64mib", 64 << 20, ""},
		{"64Mi", 64 << 20, ""},
		{"64 MiB", 64 << 20, ""},
		{" 1GB ", 1e9, ""},
		{"1.5GiB", 3 << 29, ""},
		{"0.5k", 500, ""},
		{"2K", 2000, ""},
		{"2kb", 2000, ""},
		{"3TiB", 3 << 40, ""},
		{"1PiB", 1 << 50, ""},
		{"15EiB", 15 << 60, ""},
		{"18446744073709551615", 1<<64 - 1, ""},
		{"16EiB", 0, "too large"},
		{"18446744073709551616", 0, "too large"},
		{"1.25B", 0, "whole number"},
		{"12QB", 0, `"12QB" is not a size`},
		{"", 0, "not a size"},
		{"MiB", 0, "not a size"},
		{"-1MiB", 0, "not a size"},
		{"1..5MiB", 0, "not a size"},
		{".5MiB", 0, "not a size"},
		{"5.MiB", 0, "not a size"},
		{"1e6", 0, "not a size"},
		{"0x10", 0, "not a size"},
		{"1 2MiB", 0, "not a size"},
	}
	for _, tc := range cases {
		got, err := ParseSize(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSize(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	cases := []struct {
		in   Size
		want string
	}{
		{0, "0B"}, {1, "1B"}, {1023, "1023B"}, {1024, "1KiB"}, {1000, "1kB"}, {64 << 20, "64MiB"},
		{1536 << 20, "1536MiB"}, {1e9, "1GB"}, {4 << 30, "4GiB"}, {1<<64 - 1, "18446744073709551615B"},
	}
	for _, tc := range cases {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", uint64(tc.in), got, tc.want)
		}
		if back, err := ParseSize(tc.in.String()); err != nil || back != tc.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in.String(), back, err, tc.in)
		}
	}
}

func TestParseModule(t *testing.T) {
	c := testCID(t, "m")
	v0 := testCIDv0(t, "m")
	cases := []struct {
		in   string
		want Module
		err  bool
	}{
		{c.String(), Module{CID: c}, false},
		{v0.String(), Module{CID: v0}, false},
		{"wc@1.0.0", Module{Name: "wc", Version: "1.0.0"}, false},
		{"org/tools.wc_x-y@v2", Module{Name: "org/tools.wc_x-y", Version: "v2"}, false},
		{"wc@1@2", Module{}, true},
		{"@1", Module{}, true},
		{"wc/@1", Module{}, true},
		{"WC@1", Module{}, true},
		{"wc@1 2", Module{}, true},
		{strings.Repeat("a", MaxModuleNameLen+1) + "@1", Module{}, true},
		{"wc@" + strings.Repeat("1", MaxModuleVersionLen+1), Module{}, true},
		{"", Module{}, true},
		{"Qm", Module{}, true},
	}
	for _, tc := range cases {
		got, err := ParseModule(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseModule(%q) = %+v, %v; want %+v, err=%v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("String() = %q, want %q", got.String(), tc.in)
		}
	}
}

func TestMemoryPages(t *testing.T) {
	for _, tc := range []struct {
		mem  Size
		want uint32
	}{{64 * KiB, 1}, {100e6, 1525}, {4 * GiB, 65536}} {
		if got := (Resources{Memory: tc.mem}).MemoryPages(); got != tc.want {
			t.Errorf("MemoryPages(%s) = %d, want %d", tc.mem, got, tc.want)
		}
	}
}
