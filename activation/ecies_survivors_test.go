package activation

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/powerauth"
)

// TestTemporaryKeyRequestWindow: the iat of a /pa/v3/keystore/create request JWT (PowerAuth 3.3, End-To-End
// Encryption, "Temporary Encryption Keys": iat_ms, or iat in seconds from an SDK that sends only that) must be
// within the ECIES window of the server's clock, both ends included; a JWT without either is not refused for
// its time (only its HS256 signature vouches for it). Refusals are ErrEncryption, audited as
// powerauth.keystore.create with their reason. Kills ecies.go CreateTemporaryKey's IssuedAt != 0 → == (the
// seconds-only iat would go unchecked and a JWT without iat be dated 1970) and the window's > / < → >= / <=.
func TestTemporaryKeyRequestWindow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	window := DefaultEciesWindow
	key, err := powerauth.TemporaryKeyRequestKey(powerauth.ScopeApplication, powerauth.ApplicationSecret(f.app.AppSecret), powerauth.TransportKey{})
	if err != nil {
		t.Fatal(err)
	}
	const outside = "request JWT issued outside the time window"
	tests := []struct {
		name       string
		iat, iatMs int64
		reason     string // "": a temporary key is issued
	}{
		{"iat_ms a millisecond too old", 0, now.Add(-window - time.Millisecond).UnixMilli(), outside},
		{"iat_ms a millisecond too new", 0, now.Add(window + time.Millisecond).UnixMilli(), outside},
		{"seconds-only iat two windows old", now.Add(-2 * window).Unix(), 0, outside},
		{"seconds-only iat a second too new", now.Add(window + time.Second).Unix(), 0, outside},
		{"iat_ms exactly a window old", 0, now.Add(-window).UnixMilli(), ""},
		{"iat_ms exactly a window ahead", 0, now.Add(window).UnixMilli(), ""},
		{"seconds-only iat exactly a window old", now.Add(-window).Unix(), 0, ""},
		{"no iat at all", 0, 0, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jwt, err := powerauth.SignTemporaryKeyRequest(key, powerauth.TemporaryKeyRequest{ApplicationKey: f.app.AppKey,
				Challenge: "challenge-" + string(rune('a'+i)), IssuedAt: tt.iat, IssuedAtMs: tt.iatMs})
			if err != nil {
				t.Fatal(err)
			}
			answer, err := f.s.CreateTemporaryKey(ctx, jwt)
			if tt.reason != "" {
				if !errors.Is(err, ErrEncryption) || answer != "" {
					t.Fatalf("got %v (answer of %d bytes), want %v", err, len(answer), ErrEncryption)
				}
				wantLastEvent(t, f, "powerauth.keystore.create", audit.Failure, tt.reason)
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			master, err := powerauth.ParsePublicKey(f.app.MasterPublicKey)
			if err != nil {
				t.Fatal(err)
			}
			claims, err := powerauth.VerifyTemporaryKeyResponse(answer, master)
			if err != nil || claims.Challenge != "challenge-"+string(rune('a'+i)) || claims.ApplicationKey != f.app.AppKey {
				t.Fatalf("answer %+v, %v", claims, err)
			}
		})
	}
}

// wantLastEvent checks the type, outcome and reason of the latest audit event.
func wantLastEvent(t *testing.T, f *fixture, typ, outcome, reason string) {
	t.Helper()
	p := &paFixture{fixture: f}
	ev, _ := p.lastEvent(t)
	if ev.Type != typ || ev.Outcome != outcome || ev.Reason != reason {
		t.Fatalf("audit event %s %s %q, want %s %s %q", ev.Type, ev.Outcome, ev.Reason, typ, outcome, reason)
	}
}
