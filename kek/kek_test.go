package kek

import (
	"bytes"
	"errors"
	"testing"
)

func raw(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpenRotation(t *testing.T) {
	old, _ := New([][]byte{raw(1)})
	sealed, err := old.Seal([]byte("signing key"), []byte("kid-1"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := New([][]byte{raw(2), raw(1)}) // new first, old still decrypts
	for _, tc := range []struct {
		name   string
		ring   *Ring
		sealed []byte
		ad     string
		ok     bool
	}{
		{"wrong ad", rotated, sealed, "kid-2", false},
		{"unknown key", func() *Ring { r, _ := New([][]byte{raw(3)}); return r }(), sealed, "kid-1", false},
		{"flipped bit", rotated, flip(sealed, len(sealed)-1), "kid-1", false},
		{"truncated", rotated, sealed[:10], "kid-1", false},
		{"empty", rotated, nil, "kid-1", false},
		{"rotated ring opens old value", rotated, sealed, "kid-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := tc.ring.Open(tc.sealed, []byte(tc.ad))
			if tc.ok != (err == nil) || (tc.ok && string(pt) != "signing key") || (!tc.ok && !errors.Is(err, ErrDecrypt)) {
				t.Fatalf("got %q %v", pt, err)
			}
		})
	}
	fresh, _ := rotated.Seal([]byte("x"), nil)
	if _, err := old.Open(fresh, nil); err == nil {
		t.Fatal("new values must be sealed with the first key")
	}
}

func TestDeriveStableAcrossRotation(t *testing.T) {
	r1, _ := New([][]byte{raw(1)})
	p1, id, _ := r1.Derive("passcode-pepper")
	r2, _ := New([][]byte{raw(2), raw(1)})
	p2, _ := r2.DeriveWith(id, "passcode-pepper")
	if !bytes.Equal(p1, p2) || len(p1) != 32 {
		t.Fatal("pepper changed after rotation")
	}
	other, _, _ := r1.Derive("other")
	if bytes.Equal(p1, other) {
		t.Fatal("purposes must give different keys")
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}

func TestDeriveAllFollowsTheRing(t *testing.T) {
	r1, _ := New([][]byte{raw(1)})
	old, _, _ := r1.Derive("operation-capability")
	r2, _ := New([][]byte{raw(2), raw(1)})
	all, err := r2.DeriveAll("operation-capability")
	if err != nil || len(all) != 2 {
		t.Fatalf("DeriveAll: %d keys, %v", len(all), err)
	}
	first, _, _ := r2.Derive("operation-capability")
	if !bytes.Equal(all[0], first) || !bytes.Equal(all[1], old) || bytes.Equal(all[0], all[1]) {
		t.Fatal("DeriveAll must give the first KEK's subkey first, then the older ones")
	}
}
