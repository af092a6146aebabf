package webhook

import (
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	secret := Secret(strings.Repeat("s", 32))
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"e1"}`)
	good := Sign(secret, now, body)
	other := Sign(Secret(strings.Repeat("o", 32)), now, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"empty header", "", body, now, ErrMalformedSignature},
		{"no v1", "t=1700000000", body, now, ErrMalformedSignature},
		{"no timestamp", good[strings.Index(good, "v1="):], body, now, ErrMalformedSignature},
		{"v1 not hex", "t=1700000000,v1=zz", body, now, ErrMalformedSignature},
		{"v1 too short", "t=1700000000,v1=abcd", body, now, ErrMalformedSignature},
		{"timestamp too old", good, body, now.Add(6 * time.Minute), ErrStaleSignature},
		{"timestamp in the future", good, body, now.Add(-6 * time.Minute), ErrStaleSignature},
		{"another secret", other, body, now, ErrBadSignature},
		{"body changed", good, []byte(`{"id":"e2"}`), now, ErrBadSignature},
		{"timestamp changed", strings.Replace(good, "t=1700000000", "t=1700000001", 1), body, now, ErrBadSignature},
		{"valid", good, body, now, nil},
		{"valid within tolerance", good, body, now.Add(4 * time.Minute), nil},
		{"valid among several v1 (rotation)", other + "," + good[strings.Index(good, "v1="):], body, now, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(secret, tt.header, tt.body, tt.at, 0); err != tt.want {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("super-secret-value-0123456789abcdef")
	if strings.Contains(s.String(), "super") || strings.Contains(s.LogValue().String(), "super") {
		t.Fatal("secret printed")
	}
}
