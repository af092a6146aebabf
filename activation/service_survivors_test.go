package activation

import (
	"bytes"
	"testing"
	"time"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign/replay"
)

// TestConfigBounds: every configured limit holds at both its bounds and is refused one step past, with the
// error that names it: the activation TTL (30 s to 7 days), the failed attempts of an activation (1 to 5,
// PSD2 RTS Art. 4(3)(a)) and of a recovery code's PUKs (1 to 100), the counter look-ahead (1 to 64, what the
// SDKs accept), and the windows and lifetimes (positive; 0 takes the default). Kills service.go:145:23,
// :145:63, :148:27, :151:35, :151:72, :154:19, :154:40 (< → <=, > → >=). service.go:159:8 (d <= 0 → d < 0)
// is equivalent: New replaces a zero window or lifetime by its default before the check, so d is never 0.
func TestConfigBounds(t *testing.T) {
	st := sqltest.OpenSQLite(t)
	ring, err := kek.New([][]byte{bytes.Repeat([]byte{5}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	const (
		ttl      = "activation: activation TTL must be between 30s and 168h0m0s"
		failed   = "activation: max failed attempts must be between 1 and 5"
		recovery = "activation: recovery max failed attempts must be between 1 and 100"
		look     = "activation: counter look-ahead must be between 1 and 64"
	)
	for _, tt := range []struct {
		name string
		cfg  Config
		err  string // "": accepted with cfg's values
	}{
		{"TTL under", Config{ActivationTTL: MinActivationTTL - time.Nanosecond}, ttl},
		{"TTL over", Config{ActivationTTL: MaxActivationTTL + time.Nanosecond}, ttl},
		{"no failed attempt", Config{MaxFailedAttempts: -1}, failed},
		{"six failed attempts", Config{MaxFailedAttempts: MaxFailedAttemptsLimit + 1}, failed},
		{"no wrong PUK", Config{RecoveryMaxFailedAttempts: -1}, recovery},
		{"101 wrong PUKs", Config{RecoveryMaxFailedAttempts: 101}, recovery},
		{"no look-ahead", Config{Lookahead: -1}, look},
		{"look-ahead 65", Config{Lookahead: 65}, look},
		{"negative token window", Config{TokenWindow: -time.Nanosecond}, "activation: token window must be positive"},
		{"TTL at its minimum, one failed attempt, one wrong PUK, look-ahead 1", Config{ActivationTTL: MinActivationTTL,
			MaxFailedAttempts: 1, RecoveryMaxFailedAttempts: 1, Lookahead: 1, TokenWindow: time.Nanosecond}, ""},
		{"TTL at its maximum, five failed attempts, 100 wrong PUKs, look-ahead 64", Config{ActivationTTL: MaxActivationTTL,
			MaxFailedAttempts: MaxFailedAttemptsLimit, RecoveryMaxFailedAttempts: 100, Lookahead: 64}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(st, nil, audit.New(st, nil, nil), ring, replay.NewMemory(nil), tt.cfg)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("got %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want accepted", err)
			}
			if c := s.cfg; c.ActivationTTL != tt.cfg.ActivationTTL || c.MaxFailedAttempts != tt.cfg.MaxFailedAttempts ||
				c.RecoveryMaxFailedAttempts != tt.cfg.RecoveryMaxFailedAttempts || c.Lookahead != tt.cfg.Lookahead {
				t.Fatalf("config %+v, want %+v's limits", c, tt.cfg)
			}
		})
	}
}
