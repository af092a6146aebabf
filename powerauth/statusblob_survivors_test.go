package powerauth

import (
	"errors"
	"testing"
)

// TestStatusBlobAcceptedRanges shows the mobile SDK's acceptance ranges of a status blob at their edges
// (PowerAuth 3.x, Activation Status, "Status Blob Format"; notes, Wire details item 9): every status from
// CREATED (1) to REMOVED (5) and a look-ahead of 1 and of StatusBlobMaxLookahead decrypt to the blob the
// server encrypted; status 0 and look-ahead 0 are refused with the field named.
func TestStatusBlobAcceptedRanges(t *testing.T) {
	tk := TransportKey{9, 8, 7}
	challenge, nonce := []byte("challenge-16byte"), []byte("nonce-16-bytes!!")
	ctr, err := NewCounterData()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status    ActivationStatus
		lookahead uint8
	}{
		{StatusCreated, 1}, {StatusActive, 20}, {StatusBlocked, 20}, {StatusRemoved, StatusBlobMaxLookahead},
	} {
		blob := NewStatusBlob(tc.status, 7, ctr, tk, 0, 5, tc.lookahead)
		ct, err := blob.Encrypt(tk, challenge, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := DecryptStatusBlob(tk, challenge, nonce, ct); err != nil || got != blob {
			t.Fatalf("status %d look-ahead %d: %+v, %v", tc.status, tc.lookahead, got, err)
		}
	}
	valid, err := NewStatusBlob(StatusActive, 7, ctr, tk, 0, 5, 1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		at   int
		want string
	}{{4, "status 0"}, {15, "look-ahead 0"}} {
		p := append([]byte(nil), valid...)
		p[tc.at] = 0
		if _, err := UnmarshalStatusBlob(p); !errors.Is(err, ErrInvalidStatusBlob) || err.Error() != ErrInvalidStatusBlob.Error()+": "+tc.want {
			t.Fatalf("%s: %v", tc.want, err)
		}
	}
}
