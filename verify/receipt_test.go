package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

func testReceipt(t testing.TB) Receipt {
	return Receipt{
		JobID:     "bagaaierajob",
		ModuleCID: testCID(t, "module"),
		InputCIDs: []cid.Cid{testCID(t, "in1"), testCID(t, "in2")},
		ResultCID: testCID(t, "result"),
		FuelUsed:  1<<63 + 12345,
		ExitCode:  3,
		Time:      time.Date(2030, 1, 2, 3, 4, 5, 6789, time.UTC),
	}
}

func signed(t testing.TB, r Receipt, key string) Receipt {
	t.Helper()
	s, err := Sign(r, testKey(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignVerify(t *testing.T) {
	r := signed(t, testReceipt(t), "a")
	if r.NodeID != testPeerID(t, "a") {
		t.Fatalf("Sign set NodeID %s, want %s", r.NodeID, testPeerID(t, "a"))
	}
	if err := Verify(r); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Signing with NodeID already set to the signer works too.
	pre := testReceipt(t)
	pre.NodeID = testPeerID(t, "a")
	if err := Verify(signed(t, pre, "a")); err != nil {
		t.Fatalf("Verify with preset NodeID: %v", err)
	}
	// Optional fields may be absent.
	min := Receipt{JobID: "j", ModuleCID: testCID(t, "m")}
	if err := Verify(signed(t, min, "a")); err != nil {
		t.Fatalf("Verify minimal receipt: %v", err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	good := signed(t, testReceipt(t), "a")
	cases := []struct {
		name string
		edit func(*Receipt)
		want error
	}{
		{"job", func(r *Receipt) { r.JobID += "x" }, ErrBadSignature},
		{"module", func(r *Receipt) { r.ModuleCID = testCID(t, "other") }, ErrBadSignature},
		{"input", func(r *Receipt) { r.InputCIDs[1] = testCID(t, "other") }, ErrBadSignature},
		{"input dropped", func(r *Receipt) { r.InputCIDs = r.InputCIDs[:1] }, ErrBadSignature},
		{"inputs swapped", func(r *Receipt) { r.InputCIDs[0], r.InputCIDs[1] = r.InputCIDs[1], r.InputCIDs[0] }, ErrBadSignature},
		{"result", func(r *Receipt) { r.ResultCID = testCID(t, "forged") }, ErrBadSignature},
		{"result removed", func(r *Receipt) { r.ResultCID = cid.Undef }, ErrBadSignature},
		{"fuel", func(r *Receipt) { r.FuelUsed-- }, ErrBadSignature},
		{"exit code", func(r *Receipt) { r.ExitCode = 0 }, ErrBadSignature},
		{"error", func(r *Receipt) { r.Error = "trap" }, ErrBadSignature},
		{"time", func(r *Receipt) { r.Time = r.Time.Add(time.Nanosecond) }, ErrBadSignature},
		{"time removed", func(r *Receipt) { r.Time = time.Time{} }, ErrBadSignature},
		{"signature bit", func(r *Receipt) { r.Signature[10] ^= 1 }, ErrBadSignature},
		{"no signature", func(r *Receipt) { r.Signature = nil }, ErrBadSignature},
		{"other node's key", func(r *Receipt) { r.PublicKey = testKey("b").Public().(ed25519.PublicKey) }, ErrKeyMismatch},
		{"other node's ID", func(r *Receipt) { r.NodeID = testPeerID(t, "b") }, ErrKeyMismatch},
		{"no key", func(r *Receipt) { r.PublicKey = nil }, ErrInvalidReceipt},
		{"empty job", func(r *Receipt) { r.JobID = "" }, ErrInvalidReceipt},
		{"undefined input", func(r *Receipt) { r.InputCIDs[0] = cid.Undef }, ErrInvalidReceipt},
	}
	for _, tc := range cases {
		r := good
		r.InputCIDs = append([]cid.Cid(nil), good.InputCIDs...)
		r.Signature = bytes.Clone(good.Signature)
		tc.edit(&r)
		if err := Verify(r); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", tc.name, err, tc.want)
		}
	}
	// A receipt wholly re-signed by another node, keeping the first node's
	// ID, is caught: the key must be the one the ID is derived from.
	forged := good
	forged.PublicKey = testKey("b").Public().(ed25519.PublicKey)
	forged.Signature = ed25519.Sign(testKey("b"), forged.SigningBytes())
	if err := Verify(forged); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("receipt re-signed by another key: %v", err)
	}
	if err := Verify(good); err != nil {
		t.Fatalf("the original was modified by the cases: %v", err)
	}
}

func TestSignErrors(t *testing.T) {
	r := testReceipt(t)
	r.NodeID = testPeerID(t, "b")
	if _, err := Sign(r, testKey("a")); !errors.Is(err, ErrKeyMismatch) {
		t.Errorf("Sign for another node = %v", err)
	}
	if _, err := Sign(Receipt{ModuleCID: testCID(t, "m")}, testKey("a")); !errors.Is(err, ErrInvalidReceipt) {
		t.Errorf("Sign without job = %v", err)
	}
	if _, err := Sign(testReceipt(t), ed25519.PrivateKey(make([]byte, 10))); err == nil {
		t.Error("Sign with a short key succeeded")
	}
	r = testReceipt(t)
	r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Sign(r, testKey("a")); !errors.Is(err, ErrInvalidReceipt) {
		t.Errorf("Sign with year 10000 = %v", err)
	}
}

// The signing bytes are the documented layout, built here independently.
func TestSigningBytesLayout(t *testing.T) {
	pub := testKey("a").Public().(ed25519.PublicKey)
	r := Receipt{
		JobID: "j", ModuleCID: testCID(t, "m"), InputCIDs: []cid.Cid{testCID(t, "i")},
		FuelUsed: 0x0102030405060708, ExitCode: 0x0a0b0c0d, Error: "oops",
		NodeID: "n", PublicKey: pub, Time: time.Unix(1700000000, 42),
	}
	lp := func(b []byte) []byte { return append([]byte{byte(len(b))}, b...) } // all fields < 128 bytes
	var want []byte
	want = append(want, lp([]byte("ipdm/verify/receipt/v1"))...)
	want = append(want, lp([]byte("j"))...)
	want = append(want, lp(testCID(t, "m").Bytes())...)
	want = append(want, 1)
	want = append(want, lp(testCID(t, "i").Bytes())...)
	want = append(want, 0) // undefined result
	want = append(want, 1, 2, 3, 4, 5, 6, 7, 8)
	want = append(want, 0x0a, 0x0b, 0x0c, 0x0d)
	want = append(want, lp([]byte("oops"))...)
	want = append(want, lp([]byte("n"))...)
	want = append(want, lp(pub)...)
	want = append(want, 1)
	want = binary.BigEndian.AppendUint64(want, 1700000000)
	want = binary.BigEndian.AppendUint32(want, 42)
	if got := r.SigningBytes(); !bytes.Equal(got, want) {
		t.Fatalf("SigningBytes:\n got %x\nwant %x", got, want)
	}
	// The time's location is not signed.
	r2 := r
	r2.Time = r.Time.In(time.FixedZone("x", 3600))
	if !bytes.Equal(r.SigningBytes(), r2.SigningBytes()) {
		t.Fatal("signing bytes depend on the time's location")
	}
	// A commitment can never be mistaken for signing bytes: the domains differ.
	if sha256.Sum256(r.SigningBytes()) == [32]byte(Commit(testCID(t, "m"), nil, "n", "j")) {
		t.Fatal("domain separation failed")
	}
}

func TestReceiptJSON(t *testing.T) {
	r := signed(t, testReceipt(t), "a")
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"v":1`, `"fuel_used":9223372036854788153`, `"exit_code":3`, `"time":"2030-01-02T03:04:05.000006789Z"`, `"node_id":"12D3KooW`} {
		if !bytes.Contains(b, []byte(field)) {
			t.Errorf("encoding lacks %s: %s", field, b)
		}
	}
	back, err := DecodeReceipt(b)
	if err != nil {
		t.Fatalf("DecodeReceipt: %v", err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, r)
	}
	if err := Verify(back); err != nil {
		t.Fatalf("Verify after round trip: %v", err)
	}
	// Through json.Marshal of an enclosing struct.
	type env struct{ R *Receipt }
	wrapped, err := json.Marshal(env{&r})
	if err != nil {
		t.Fatal(err)
	}
	var e env
	if err := json.Unmarshal(wrapped, &e); err != nil || Verify(*e.R) != nil {
		t.Fatalf("embedded round trip: %v", err)
	}
	// Unsigned minimal receipts encode without the optional fields.
	min, err := Receipt{JobID: "j", ModuleCID: testCID(t, "m"), NodeID: "n"}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"job_id":"j","module_cid":"` + testCID(t, "m").String() + `","fuel_used":0,"exit_code":0,"node_id":"n"}`
	if string(min) != want {
		t.Fatalf("minimal encoding\n got %s\nwant %s", min, want)
	}
}

func TestDecodeReceiptRejects(t *testing.T) {
	good, err := signed(t, testReceipt(t), "a").Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	edit := func(k string, v any) string {
		c := make(map[string]any, len(m))
		for kk, vv := range m {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		b, _ := json.Marshal(c)
		return string(b)
	}
	raw := func(k, v string) string { // replace the value of k by raw JSON v
		s := edit(k, "PLACEHOLDER")
		return strings.Replace(s, `"PLACEHOLDER"`, v, 1)
	}
	cases := map[string]string{
		"unknown field":      edit("extra", 1),
		"version 2":          raw("v", "2"),
		"no version":         edit("v", nil),
		"version string":     edit("v", "1"),
		"no fuel":            edit("fuel_used", nil),
		"negative fuel":      raw("fuel_used", "-1"),
		"fractional fuel":    raw("fuel_used", "1.5"),
		"exponent fuel":      raw("fuel_used", "1e3"),
		"leading zero fuel":  raw("fuel_used", "01"),
		"fuel overflow":      raw("fuel_used", "18446744073709551616"),
		"exit overflow":      raw("exit_code", "4294967296"),
		"bad module":         edit("module_cid", "nope"),
		"no module":          edit("module_cid", nil),
		"bad input":          edit("input_cids", []string{"nope"}),
		"bad result":         edit("result_cid", "nope"),
		"short key":          edit("public_key", "AAAA"),
		"bad base64":         edit("public_key", "!!!"),
		"short signature":    edit("signature", "AAAA"),
		"bad time":           edit("time", "yesterday"),
		"zero time":          edit("time", "0001-01-01T00:00:00Z"),
		"no job":             edit("job_id", nil),
		"trailing data":      string(good) + " {}",
		"not an object":      `[1]`,
		"empty":              ``,
		"null":               `null`,
		"too big":            `{"v":1,"job_id":"` + strings.Repeat("x", MaxReceiptSize) + `"}`,
		"job too long":       edit("job_id", strings.Repeat("x", MaxJobIDLen+1)),
		"unpadded signature": edit("signature", strings.TrimRight(m["signature"].(string), "=")),
	}
	for name, in := range cases {
		if _, err := DecodeReceipt([]byte(in)); !errors.Is(err, ErrInvalidReceipt) {
			t.Errorf("%s: DecodeReceipt = %v, want ErrInvalidReceipt", name, err)
		}
	}
	// A time with an offset is accepted and normalised to UTC; it still
	// verifies because only the instant is signed.
	r := testReceipt(t)
	r.Time = time.Date(2030, 1, 2, 4, 4, 5, 0, time.FixedZone("", 3600))
	s := signed(t, r, "a")
	b, _ := s.Encode()
	b = bytes.Replace(b, []byte("2030-01-02T03:04:05Z"), []byte("2030-01-02T04:04:05+01:00"), 1)
	back, err := DecodeReceipt(b)
	if err != nil || Verify(back) != nil || back.Time.Location() != time.UTC {
		t.Fatalf("offset time: %v %v", err, back.Time)
	}
}

func FuzzDecodeReceipt(f *testing.F) {
	good, err := signed(f, testReceipt(f), "a").Encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	min, _ := Receipt{JobID: "j", ModuleCID: testCID(f, "m"), NodeID: "n"}.Encode()
	f.Add(min)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"job_id":"j","module_cid":"bafkqaaa","fuel_used":0,"exit_code":0,"node_id":"n","time":"9999-12-31T23:59:59.999999999-23:59"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeReceipt(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidReceipt) {
				t.Fatalf("error %v does not wrap ErrInvalidReceipt", err)
			}
			return
		}
		verr := Verify(r) // must not panic
		enc, err := r.Encode()
		if err != nil {
			t.Fatalf("Encode of decoded receipt: %v", err)
		}
		back, err := DecodeReceipt(enc)
		if err != nil {
			t.Fatalf("DecodeReceipt(Encode(r)): %v\n%s", err, enc)
		}
		enc2, err := back.Encode()
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
		if !bytes.Equal(r.SigningBytes(), back.SigningBytes()) {
			t.Fatal("re-encoding changed the signed content")
		}
		if (Verify(back) == nil) != (verr == nil) {
			t.Fatal("re-encoding changed the verification result")
		}
	})
}
