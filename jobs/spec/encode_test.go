package spec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodeCanonical(t *testing.T) {
	s := fullSpec(t)
	s.Constraints.Roles = []string{"storage", "processing"} // roles are sorted on output
	s.Env["<&>"] = "x<y>"                                   // invalid name, checked below
	if _, err := s.Encode(); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Encode of an invalid spec = %v, want ErrInvalidSpec", err)
	}
	delete(s.Env, "<&>")
	s.Args = append(s.Args, "<&>")
	got, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := string(doc(t, `{"apiVersion":"ipdm/v1","kind":"Job","module":"$M",`+
		`"inputs":[{"cid":"$A","name":"corpus.txt"},{"cid":"$B"}],"args":["--top","10","x y","<&>"],`+
		`"env":{"DEBUG":"1","LANG":"C"},`+
		`"resources":{"memory":134217728,"fuel":1000000,"timeouts":{"queue":"30s","execution":"2m0s","total":"10m0s"}},`+
		`"replicas":3,"quorum":2,"constraints":{"labels":{"region":"eu-west","tier":"gold"},"roles":["processing","storage"]},`+
		`"publisher":{"local":true,"pin_on":2},"seed":18446744073709551615}`))
	if string(got) != want {
		t.Fatalf("Encode:\n got %s\nwant %s", got, want)
	}
	// Minimal spec: empty fields are left out.
	m := Spec{APIVersion: APIVersion, Kind: KindJob, Module: Module{Name: "wc", Version: "1"}}
	got, err = m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"apiVersion":"ipdm/v1","kind":"Job","module":"wc@1"}`; string(got) != want {
		t.Fatalf("Encode minimal = %s, want %s", got, want)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, s := range []Spec{fullSpec(t), fullSpec(t).WithDefaults(), {APIVersion: APIVersion, Kind: KindJob, Module: Module{Name: "a", Version: "b"}}} {
		b, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode): %v", err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, s)
		}
	}
}

func TestDigestIgnoresSpelling(t *testing.T) {
	variants := []string{
		// Defaults implicit.
		"apiVersion: ipdm/v1\nkind: Job\nmodule: $M\ninputs: [$A]\nreplicas: 3\nconstraints: {roles: [storage, processing]}\n",
		// Same in JSON, other field order, defaults written out, other units.
		`{"replicas": 3, "quorum": 2, "kind": "Job", "apiVersion": "ipdm/v1", "module": "$M",
		  "inputs": [{"cid": "$A"}], "constraints": {"roles": ["processing", "storage"]},
		  "resources": {"memory": "64 MiB", "fuel": 10000000000, "timeouts": {"queue": "60s", "execution": "300s", "total": "11m"}}}`,
		// Memory in bytes, empty lists and maps, explicit nulls.
		"apiVersion: ipdm/v1\nkind: Job\nmodule: $M\ninputs: [{cid: $A}]\nargs: []\nenv: {}\nseed: ~\nreplicas: 3\n" +
			"resources: {memory: 67108864}\nconstraints: {labels: {}, roles: [processing, storage]}\npublisher: {local: false, pin_on: 0}\n",
	}
	var first [32]byte
	for i, v := range variants {
		s, err := Decode(doc(t, v))
		if err != nil {
			t.Fatalf("variant %d: %v", i, err)
		}
		d, err := s.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = d
			continue
		}
		if d != first {
			a, _ := Decode(doc(t, variants[0]))
			ea, _ := a.WithDefaults().Encode()
			eb, _ := s.WithDefaults().Encode()
			t.Fatalf("variant %d digest differs:\n%s\n%s", i, ea, eb)
		}
	}
	// A CIDv1 written in base58 is the same CID as in base32.
	c := testCID(t, "a")
	b58, err := c.StringOfBase('z')
	if err != nil {
		t.Fatal(err)
	}
	s1 := Spec{Module: Module{CID: c}}
	s2, err := Decode([]byte("apiVersion: ipdm/v1\nkind: Job\nmodule: " + b58 + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := s1.Digest()
	d2, _ := s2.Digest()
	if d1 != d2 {
		t.Fatal("base58 and base32 spellings of a CID give different digests")
	}
}

func TestDigestDistinguishesJobs(t *testing.T) {
	base := fullSpec(t)
	edits := map[string]func(*Spec){
		"module":          func(s *Spec) { s.Module = Module{CID: testCID(t, "other")} },
		"input order":     func(s *Spec) { s.Inputs[0], s.Inputs[1] = s.Inputs[1], s.Inputs[0] },
		"input name":      func(s *Spec) { s.Inputs[0].Name = "other.txt" },
		"arg":             func(s *Spec) { s.Args[1] = "11" },
		"arg split":       func(s *Spec) { s.Args = []string{"--top", "10 x", "y"} },
		"env":             func(s *Spec) { s.Env["LANG"] = "D" },
		"memory":          func(s *Spec) { s.Resources.Memory++ },
		"fuel":            func(s *Spec) { s.Resources.Fuel++ },
		"timeout":         func(s *Spec) { s.Resources.Timeouts.Total += time.Second },
		"replicas":        func(s *Spec) { s.Replicas = 4 },
		"quorum":          func(s *Spec) { s.Quorum = 3 },
		"label":           func(s *Spec) { s.Constraints.Labels["tier"] = "silver" },
		"role":            func(s *Spec) { s.Constraints.Roles = s.Constraints.Roles[:1] },
		"publisher local": func(s *Spec) { s.Publisher.Local = false },
		"pin_on":          func(s *Spec) { s.Publisher.PinOn = 3 },
		"seed":            func(s *Spec) { *s.Seed = 1 },
		"no seed":         func(s *Spec) { s.Seed = nil },
	}
	d0, err := base.Digest()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[[32]byte]string{d0: "base"}
	for name, edit := range edits {
		s := fullSpec(t)
		edit(&s)
		d, err := s.Digest()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if other, dup := seen[d]; dup {
			t.Errorf("%s has the same digest as %s", name, other)
		}
		seen[d] = name
	}
}

func TestIDAndSeed(t *testing.T) {
	s := fullSpec(t)
	id, err := s.ID()
	if err != nil {
		t.Fatal(err)
	}
	d, _ := s.Digest()
	if id.Version() != 1 || id.Type() != codecJSON {
		t.Fatalf("ID %s: version %d codec %#x", id, id.Version(), id.Type())
	}
	if !bytes.HasSuffix(id.Hash(), d[:]) {
		t.Fatal("ID multihash does not carry the digest")
	}
	// The ID addresses the canonical bytes: hashing them yields the ID.
	enc, _ := s.WithDefaults().Encode()
	again, err := id.Prefix().Sum(enc)
	if err != nil || !again.Equals(id) {
		t.Fatalf("prefix sum of encoding = %s, %v; want %s", again, err, id)
	}
	if seed, _ := s.EffectiveSeed(); seed != *s.Seed {
		t.Fatalf("EffectiveSeed = %d, want %d", seed, *s.Seed)
	}
	s.Seed = nil
	d, _ = s.Digest()
	if seed, _ := s.EffectiveSeed(); seed != binary.BigEndian.Uint64(d[:8]) {
		t.Fatalf("EffectiveSeed without seed = %d, not derived from digest", seed)
	}
	if _, err := (Spec{}).ID(); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("ID of invalid spec: %v", err)
	}
}

func TestJSONMarshalers(t *testing.T) {
	type wrapper struct {
		Spec Spec `json:"spec"`
		N    int  `json:"n"`
	}
	w := wrapper{Spec: fullSpec(t), N: 7}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var back wrapper
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, w) {
		t.Fatalf("round trip through a wrapper:\n got %+v\nwant %+v", back, w)
	}
	bad := strings.Replace(string(b), `"replicas":3`, `"replicas":3,"colour":"blue"`, 1)
	if err := json.Unmarshal([]byte(bad), &back); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("unknown field inside an embedded spec: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(doc(f, fullYAML))
	f.Add(doc(f, "apiVersion: ipdm/v1\nkind: Job\nmodule: wc@1\n"))
	f.Add(doc(f, `{"apiVersion":"ipdm/v1","kind":"Job","module":"$M","inputs":["$A",{"cid":"$B","name":"b"}],"resources":{"memory":"1.5GiB"}}`))
	f.Add([]byte("apiVersion: ipdm/v1\nresources:\n  memory: 12QB\n"))
	f.Add([]byte("{"))
	f.Add([]byte("a: &x [*x]"))
	f.Add([]byte("- - - - -"))
	f.Add([]byte(`{"env":{"\u0000":1e999}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			var fe *FieldErrors
			if !errors.As(err, &fe) || len(fe.Errors) == 0 || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Decode error %T %v is not a non-empty *FieldErrors", err, err)
			}
			return
		}
		// A decoded spec is valid, encodes, and decodes back to the same
		// canonical encoding; its defaulted form is valid too.
		enc, err := s.Encode()
		if err != nil {
			t.Fatalf("Encode of decoded spec: %v", err)
		}
		back, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(s)): %v\n%s", err, enc)
		}
		enc2, err := back.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
		if _, err := s.Digest(); err != nil {
			t.Fatalf("Digest of decoded spec: %v", err)
		}
	})
}
