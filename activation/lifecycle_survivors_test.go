package activation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/fault"
)

// TestInitBounds: the bounds of an activation's settings (PowerAuth server initActivation's maxFailureCount,
// activation expiry and activationOtp; here 1 to MaxFailedAttemptsLimit attempts, MinActivationTTL to
// MaxActivationTTL, an OTP of 4 to 64 printable characters) include their ends: a value at each end is
// stored as given, one step beyond is refused naming its field; a control character is refused in the OTP's
// first position too. Kills lifecycle.go:50's two and :55's boundaries (>= → >, <= → <) and :59's, those of
// the OTP length and its IndexFunc(...) < 0 → <= 0.
func TestInitBounds(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	base := func(with func(*InitRequest)) InitRequest {
		r := InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID}
		with(&r)
		return r
	}
	tests := []struct {
		name  string
		req   InitRequest
		field string // "": created
	}{
		{"expiry a millisecond short of the minimum", base(func(r *InitRequest) { r.ExpiresIn = MinActivationTTL - time.Millisecond }), "expires_in"},
		{"expiry a second beyond the maximum", base(func(r *InitRequest) { r.ExpiresIn = MaxActivationTTL + time.Second }), "expires_in"},
		{"negative failed attempts", base(func(r *InitRequest) { r.MaxFailedAttempts = -1 }), "max_failed_attempts"},
		{"one attempt beyond the limit", base(func(r *InitRequest) { r.MaxFailedAttempts = MaxFailedAttemptsLimit + 1 }), "max_failed_attempts"},
		{"OTP of 3 characters", base(func(r *InitRequest) { r.OTP = "ééé" }), "otp"},
		{"OTP starting with a control character", base(func(r *InitRequest) { r.OTP = "\x7f1234" }), "otp"},
		{"OTP of 65 characters", base(func(r *InitRequest) { r.OTP = strings.Repeat("é", 65) }), "otp"},
		{"expiry exactly the minimum", base(func(r *InitRequest) { r.ExpiresIn = MinActivationTTL }), ""},
		{"expiry exactly the maximum", base(func(r *InitRequest) { r.ExpiresIn = MaxActivationTTL }), ""},
		{"one failed attempt allowed", base(func(r *InitRequest) { r.MaxFailedAttempts = 1 }), ""},
		{"the most failed attempts allowed", base(func(r *InitRequest) { r.MaxFailedAttempts = MaxFailedAttemptsLimit }), ""},
		{"OTP of 4 characters", base(func(r *InitRequest) { r.OTP = "éééé" }), ""},
		{"OTP of 64 characters", base(func(r *InitRequest) { r.OTP = strings.Repeat("é", 64) }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := f.s.Init(ctx, "test", tt.req)
			if tt.field != "" {
				var inv *fault.InvalidError
				if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != tt.field {
					t.Fatalf("got %v, want one problem with %s", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := a.Credential
			wantExpiry, wantMax := DefaultActivationTTL, DefaultMaxFailedAttempts
			if tt.req.ExpiresIn != 0 {
				wantExpiry = tt.req.ExpiresIn
			}
			if tt.req.MaxFailedAttempts != 0 {
				wantMax = tt.req.MaxFailedAttempts
			}
			if c.ExpiresAt == nil || !c.ExpiresAt.Equal(f.clock.Now().Add(wantExpiry)) || c.MaxFailedAttempts != wantMax {
				t.Fatalf("expires %v, max failed attempts %d; want %v, %d", c.ExpiresAt, c.MaxFailedAttempts,
					f.clock.Now().Add(wantExpiry), wantMax)
			}
		})
	}
}
