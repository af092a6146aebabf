package webauthn

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/ceremony/ceremonytest"
)

// TestCeremonyChecksOnEveryStore: whichever store holds the WebAuthn ceremonies (memory, SQLite,
// PostgreSQL, miniredis, Redis), a ceremony is read back only by its own kind, user and operation,
// is consumed once, and is refused once expired; an id that names nothing is errNoCeremony (not
// audited, counted by the server), anything else errCeremony.
func TestCeremonyChecksOnEveryStore(t *testing.T) {
	for _, impl := range ceremonytest.Implementations() {
		t.Run(impl.Name, func(t *testing.T) {
			b := impl.Open(t)(t)
			timeout := time.Minute
			if b.TTL != 0 {
				timeout = b.TTL
			}
			s := &Service{cfg: Config{Now: b.Now, CeremonyTimeout: timeout, Ceremonies: b.Cache}}
			ctx := t.Context()
			user, op := uuid.NewString(), uuid.NewString()
			c, err := s.createCeremony(ctx, kindApproval, user, op, ceremonyData{KEKID: "01020304", Decision: "approve"})
			if err != nil {
				t.Fatal(err)
			}
			refused := func(name string, err error) {
				t.Helper()
				if !errors.Is(err, errCeremony) {
					t.Fatalf("%s: %v; want errCeremony", name, err)
				}
				if _, unknown := audit.UnrecordedReason(err); unknown {
					t.Fatalf("%s: refused as unknown (unaudited), want as foreign, used or expired", name)
				}
			}
			_, d, err := s.loadCeremony(ctx, c.ID, kindApproval, user, op)
			if err != nil || d.KEKID != "01020304" || d.Decision != "approve" {
				t.Fatalf("own ceremony: %+v, %v", d, err)
			}
			_, _, err = s.loadCeremony(ctx, c.ID, kindRegistration, user, "")
			refused("another kind", err)
			_, _, err = s.loadCeremony(ctx, c.ID, kindApproval, uuid.NewString(), op)
			refused("another user", err)
			_, _, err = s.loadCeremony(ctx, c.ID, kindApproval, "", uuid.NewString())
			refused("another operation", err)
			if _, _, err := s.loadCeremony(ctx, uuid.NewString(), kindApproval, "", op); !errors.Is(err, errNoCeremony) {
				t.Fatalf("unknown id: %v; want errNoCeremony", err)
			}

			if err := s.consume(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			refused("consumed twice", s.consume(ctx, c.ID))
			_, _, err = s.loadCeremony(ctx, c.ID, kindApproval, user, op)
			refused("load after consume", err)

			late, err := s.createCeremony(ctx, kindApproval, user, op, ceremonyData{KEKID: "01020304"})
			if err != nil {
				t.Fatal(err)
			}
			if b.Advance != nil {
				b.Advance(timeout + time.Second)
			} else {
				time.Sleep(timeout + timeout/2)
			}
			if _, _, err := s.loadCeremony(ctx, late.ID, kindApproval, user, op); !errors.Is(err, errCeremony) {
				t.Fatalf("expired ceremony loaded: %v", err)
			}
			refused("consume after expiry", s.consume(ctx, late.ID))
		})
	}
}
