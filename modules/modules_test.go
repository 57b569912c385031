package modules

import (
	"context"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

const modCID = "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4"

func key(seed byte) ed25519.PrivateKey {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	return ed25519.NewKeyFromSeed(s)
}

func signed(t *testing.T, name, version, c string, k ed25519.PrivateKey) Record {
	t.Helper()
	r, err := Sign(Record{Name: name, Version: version, CID: c, Size: 12, Published: 1700000000}, k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSignVerifyRoundTrip(t *testing.T) {
	r := signed(t, "wordcount", "1.0.0", modCID, key(1))
	if !strings.HasPrefix(r.Publisher, "12D3KooW") {
		t.Fatalf("publisher %q", r.Publisher)
	}
	data, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if back.Ref() != "wordcount@1.0.0" || back.CID != modCID {
		t.Fatalf("round trip: %+v", back)
	}
	for name, mutate := range map[string]func(*Record){
		"cid":       func(r *Record) { r.CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" },
		"version":   func(r *Record) { r.Version = "1.0.1" },
		"size":      func(r *Record) { r.Size = 13 },
		"publisher": func(r *Record) { r.Publisher = signed(t, "x", "1", modCID, key(2)).Publisher },
		"key":       func(r *Record) { r.PublicKey = key(2).Public().(ed25519.PublicKey) },
		"signature": func(r *Record) { r.Signature[0] ^= 1 },
	} {
		bad := r
		bad.Signature = append([]byte(nil), r.Signature...)
		mutate(&bad)
		if err := bad.Verify(); !errors.Is(err, ErrInvalid) {
			t.Errorf("tampered %s: %v", name, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		name string
	}{
		{"wordcount@1.2.0", true, "wordcount"},
		{"csv-filter@0.1.0+build.5", true, "csv-filter"},
		{"WordCount@1", false, ""},
		{"wordcount", false, ""},
		{"@1.0", false, ""},
		{"a@", false, ""},
		{"../etc@1", false, ""},
		{"a@1/2", false, ""},
	} {
		name, _, err := ParseRef(tc.in)
		if (err == nil) != tc.ok || name != tc.name {
			t.Errorf("ParseRef(%q) = %q, %v", tc.in, name, err)
		}
	}
}

func TestRegistryRules(t *testing.T) {
	ctx := context.Background()
	reg := NewRegistry(dssync.MutexWrap(ds.NewMapDatastore()))
	alice, bob := key(1), key(2)
	if added, err := reg.Put(ctx, signed(t, "wc", "1.0.0", modCID, alice)); err != nil || !added {
		t.Fatalf("first put: %v %v", added, err)
	}
	if added, err := reg.Put(ctx, signed(t, "wc", "1.0.0", modCID, alice)); err != nil || added {
		t.Fatalf("same record again: %v %v", added, err)
	}
	other := "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	if _, err := reg.Put(ctx, signed(t, "wc", "1.0.0", other, alice)); !errors.Is(err, ErrConflict) {
		t.Fatalf("rebinding a version: %v", err)
	}
	if _, err := reg.Put(ctx, signed(t, "wc", "2.0.0", other, bob)); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("another publisher's version: %v", err)
	}
	if _, err := reg.Put(ctx, signed(t, "wc", "2.0.0", other, alice)); err != nil {
		t.Fatal(err)
	}
	r, err := reg.Resolve(ctx, "wc", "2.0.0")
	if err != nil || r.CID != other {
		t.Fatalf("resolve: %+v %v", r, err)
	}
	if _, err := reg.Resolve(ctx, "wc", "3.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	list, err := reg.List(ctx)
	if err != nil || len(list) != 2 || list[0].Version != "1.0.0" {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Sign(Record{Name: "wc", Version: "1.0.0", CID: modCID, Size: 12}, key(1))
	data, _ := good.Encode()
	f.Add(data)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"name":"wc","version":"1","cid":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			return
		}
		if err := r.Verify(); err != nil {
			t.Fatalf("Decode accepted a record that does not verify: %v", err)
		}
	})
}
