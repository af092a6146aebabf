package txsign_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
)

// TestRotateNeverPromotesAnUnpublishedKey: when the key table has no next key (a rotation whose last step,
// creating the next key, failed), Rotate publishes one and refuses to promote it in the same call, so no
// token is signed by a key gateways have not fetched; the active key keeps signing, and the next Rotate
// promotes the published key.
func TestRotateNeverPromotesAnUnpublishedKey(t *testing.T) {
	ctx := context.Background()
	st := sqltest.OpenSQLite(t)
	clk := newClock()
	k := txsign.NewKeyring(st, ring(t), txsign.KeyringConfig{CacheFor: time.Second, Now: clk.now})
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	signer, _, _ := k.Signer(ctx)
	byState := func() map[store.SigningKeyState][]string {
		keys, err := st.ListSigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[store.SigningKeyState][]string{}
		for _, sk := range keys {
			m[sk.State] = append(m[sk.State], sk.ID)
		}
		return m
	}
	lost := byState()[store.KeyNext][0]
	if _, err := st.UpdateSigningKey(ctx, lost, func(sk *store.SigningKey) error {
		now := clk.now()
		sk.State, sk.RetiredAt, sk.PublishUntil = store.KeyRetired, &now, &now
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	promoted, err := k.Rotate(ctx)
	if promoted != "" || err == nil || err.Error() != "txsign: there was no next key; one is now published, rotate again once gateways have refreshed" {
		t.Fatalf("Rotate without a next key = %q, %v; want nothing promoted and the reason", promoted, err)
	}
	keys := byState()
	if len(keys[store.KeyNext]) != 1 || keys[store.KeyNext][0] == lost || len(keys[store.KeyActive]) != 1 || keys[store.KeyActive][0] != signer {
		t.Fatalf("after Rotate without a next key: %v; want the same active key %s and one new next key", keys, signer)
	}
	published := keys[store.KeyNext][0]
	// Published at once by this replica, not when its cache of the key table next expires: gateways that
	// refresh now must see it before the next Rotate promotes it.
	jwks, err := k.JWKS(ctx)
	if err != nil || !slices.ContainsFunc(jwks, func(j txsign.JWK) bool { return j.Kid == published }) {
		t.Fatalf("JWKS right after Rotate published %s: %+v, %v", published, jwks, err)
	}
	clk.advance(2 * time.Second) // past the cache
	if kid, _, _ := k.Signer(ctx); kid != signer {
		t.Fatalf("signing with %s, want the active key %s until the next rotation", kid, signer)
	}

	if promoted, err = k.Rotate(ctx); promoted != published || err != nil {
		t.Fatalf("second Rotate = %q, %v; want the published key %s promoted", promoted, err, published)
	}
	if kid, _, _ := k.Signer(ctx); kid != published {
		t.Fatalf("signing with %s after the rotation, want %s", kid, published)
	}
}

// TestRetiredKeyPublishWindow: a retired key stays published, and verifies, for CacheFor (a replica may sign
// with it until its cache refreshes) + MaxTokenTTL (the tokens it signed) + one minute of clock skew after
// the rotation, and not an instant longer; unset, CacheFor is 10 s and MaxTokenTTL 300 s.
func TestRetiredKeyPublishWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    txsign.KeyringConfig
		window time.Duration
	}{
		{"configured", txsign.KeyringConfig{CacheFor: 2 * time.Second, MaxTokenTTL: 45 * time.Second}, 2*time.Second + 45*time.Second + time.Minute},
		{"defaults", txsign.KeyringConfig{}, 10*time.Second + 300*time.Second + time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := sqltest.OpenSQLite(t)
			clk := newClock()
			tc.cfg.Now = clk.now
			k := txsign.NewKeyring(st, ring(t), tc.cfg)
			if err := k.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			old, _, _ := k.Signer(ctx)
			rotatedAt := clk.now()
			if _, err := k.Rotate(ctx); err != nil {
				t.Fatal(err)
			}
			keys, _ := st.ListSigningKeys(ctx)
			for _, sk := range keys {
				if sk.ID == old && (sk.State != store.KeyRetired || sk.PublishUntil == nil || !sk.PublishUntil.Equal(rotatedAt.Add(tc.window))) {
					t.Fatalf("retired key %s published until %v, want %s", sk.State, sk.PublishUntil, rotatedAt.Add(tc.window))
				}
			}
			published := func() bool {
				jwks, err := k.JWKS(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, j := range jwks {
					if j.Kid == old {
						return true
					}
				}
				return false
			}
			clk.advance(tc.window - time.Second)
			if _, err := k.Key(ctx, old); err != nil || !published() {
				t.Fatalf("a second before the window closes: verifies %v, published %v", err, published())
			}
			clk.advance(time.Second)
			if _, err := k.Key(ctx, old); !errors.Is(err, verify.ErrUnknownKey) || published() {
				t.Fatalf("when the window closes: verifies %v, published %v; want unknown and unpublished", err, published())
			}
		})
	}
}

// TestRotateIfDueBoundaries: timed rotation happens once the active key has signed for exactly RotateEvery,
// not a second earlier, and never when RotateEvery is 0 (manual rotation only).
func TestRotateIfDueBoundaries(t *testing.T) {
	ctx := context.Background()
	for _, every := range []time.Duration{0, time.Hour} {
		st := sqltest.OpenSQLite(t)
		clk := newClock()
		k := txsign.NewKeyring(st, ring(t), txsign.KeyringConfig{RotateEvery: every, CacheFor: time.Nanosecond, Now: clk.now})
		if err := k.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		first, _, _ := k.Signer(ctx)
		if every == 0 {
			clk.advance(365 * 24 * time.Hour)
			if rotated, err := k.RotateIfDue(ctx); rotated || err != nil {
				t.Fatalf("RotateEvery 0 rotated after a year: %v %v", rotated, err)
			}
			continue
		}
		clk.advance(every - time.Second)
		if rotated, err := k.RotateIfDue(ctx); rotated || err != nil {
			t.Fatalf("rotated a second early: %v %v", rotated, err)
		}
		clk.advance(time.Second)
		if rotated, err := k.RotateIfDue(ctx); !rotated || err != nil {
			t.Fatalf("not rotated at RotateEvery: %v %v", rotated, err)
		}
		if now, _, _ := k.Signer(ctx); now == first {
			t.Fatal("signer unchanged after the rotation")
		}
	}
}

// TestKeyTableCache: signing and verification read the key table at most once per CacheFor (a read per
// approval would put the table on every request's path); signing re-reads it as soon as CacheFor has passed,
// and verification keeps a table it cannot refresh until exactly MaxStale after the last read.
func TestKeyTableCache(t *testing.T) {
	ctx := context.Background()
	ds := &downStore{Store: sqltest.OpenSQLite(t)}
	clk := newClock()
	k := txsign.NewKeyring(ds, ring(t), txsign.KeyringConfig{CacheFor: 10 * time.Second, MaxStale: time.Minute, Now: clk.now})
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	kid, _, _ := k.Signer(ctx)
	reads := func(f func() error) int32 {
		t.Helper()
		ds.reads.Store(0)
		if err := f(); err != nil {
			t.Fatal(err)
		}
		return ds.reads.Load()
	}
	sign := func() error { _, _, err := k.Signer(ctx); return err }
	check := func() error { _, err := k.Key(ctx, kid); return err }

	clk.advance(10*time.Second - time.Nanosecond)
	if n := reads(sign) + reads(check) + reads(sign); n != 0 {
		t.Fatalf("%d key table reads within CacheFor, want 0", n)
	}
	clk.advance(time.Nanosecond)
	if n := reads(sign); n != 1 {
		t.Fatalf("signing at CacheFor read the table %d times, want 1", n)
	}
	clk.advance(10 * time.Second)
	if n := reads(check); n != 1 {
		t.Fatalf("verifying at CacheFor read the table %d times, want 1", n)
	}

	ds.down.Store(true)
	clk.advance(time.Minute) // exactly MaxStale after the last read
	if _, err := k.Key(ctx, kid); err != nil {
		t.Fatalf("verifying at MaxStale during an outage: %v", err)
	}
	clk.advance(time.Second) // past the retry pause
	if _, err := k.Key(ctx, kid); !errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("verifying past MaxStale during an outage: %v, want ErrUnavailable", err)
	}
}
