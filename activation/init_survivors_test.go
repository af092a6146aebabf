package activation

import (
	"context"
	"errors"
	"testing"

	"github.com/signet-sca/signet/store"
)

// collidingStore answers the first collisions CreateCredential calls with ErrAlreadyExists, as the store does
// when a new activation code's lookup key (its first 50 bits) is already held by a pending activation; past
// limit calls it answers errTooManyDraws, so a retry loop that never ends shows as that error.
type collidingStore struct {
	Store
	collisions, limit, calls int
}

var errTooManyDraws = errors.New("test: more draws than Init may make")

func (c *collidingStore) CreateCredential(ctx context.Context, cred *store.Credential) error {
	c.calls++
	if c.calls > c.limit {
		return errTooManyDraws
	}
	if c.calls <= c.collisions {
		return store.ErrAlreadyExists
	}
	return c.Store.CreateCredential(ctx, cred)
}

// TestInitRedrawsCollidingCode: Init draws a new activation code when the lookup key of the one it drew is
// taken by a pending activation (PowerAuth 3.x, Activation Code: codes must be unique among pending
// activations; PowerAuth server likewise redraws a bounded number of times), at most five draws in all:
// after one collision the second draw is stored; after five the store's ErrAlreadyExists is returned and
// nothing is stored or audited. Kills lifecycle.go:99 attempt++ → attempt-- (which would draw forever).
func TestInitRedrawsCollidingCode(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t.Run("one collision", func(t *testing.T) {
		cs := &collidingStore{Store: f.st, collisions: 1, limit: 5}
		f.s.store = cs
		defer func() { f.s.store = f.st }()
		a, err := f.s.Init(ctx, "test", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID})
		if err != nil || cs.calls != 2 {
			t.Fatalf("got %v after %d draws, want an activation after 2", err, cs.calls)
		}
		if c, err := f.st.GetCredential(ctx, a.Credential.ID); err != nil || c.Status != store.StatusCreated {
			t.Fatalf("stored %s, %v", c.Status, err)
		}
	})
	t.Run("five collisions", func(t *testing.T) {
		before, _, err := f.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		cs := &collidingStore{Store: f.st, collisions: 100, limit: 5}
		f.s.store = cs
		defer func() { f.s.store = f.st }()
		_, err = f.s.Init(ctx, "test", InitRequest{UserID: f.user.ID, ApplicationID: f.app.ID})
		if !errors.Is(err, store.ErrAlreadyExists) || cs.calls != 5 {
			t.Fatalf("got %v after %d draws, want %v after 5", err, cs.calls, store.ErrAlreadyExists)
		}
		after, _, err := f.st.ListAudit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil || len(after) != len(before) {
			t.Fatalf("%d audit events before, %d after (%v)", len(before), len(after), err)
		}
	})
}
