package txsign_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
)

type clock struct{ t atomic.Pointer[time.Time] }

func newClock() *clock {
	c := &clock{}
	now := time.Now().UTC().Truncate(time.Second)
	c.t.Store(&now)
	return c
}
func (c *clock) now() time.Time { return *c.t.Load() }
func (c *clock) advance(d time.Duration) {
	n := c.now().Add(d)
	c.t.Store(&n)
}

func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	m := map[string]func(t *testing.T) store.Store{
		"sqlite": func(t *testing.T) store.Store { return sqltest.OpenSQLite(t) },
	}
	if _, ok := sqltest.Postgres(t); ok {
		m["postgres"] = func(t *testing.T) store.Store { return sqltest.OpenPostgres(t) }
	}
	return m
}

func ring(t *testing.T) *kek.Ring {
	r, err := kek.New([][]byte{bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRotationWithTwoReplicas runs two keyrings ("servers") on one database:
// concurrent rotations promote exactly one key per round, the next key is
// published before it signs, and a retired key stays published until every
// token it signed has expired.
func TestRotationWithTwoReplicas(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			clk := newClock()
			cfg := txsign.KeyringConfig{RotateEvery: time.Hour, MaxTokenTTL: 300 * time.Second, CacheFor: time.Second, Now: clk.now}
			a := txsign.NewKeyring(st, ring(t), cfg)
			b := txsign.NewKeyring(st, ring(t), cfg)
			var wg sync.WaitGroup
			for _, k := range []*txsign.Keyring{a, b} { // both start at once on an empty table
				wg.Add(1)
				go func() { defer wg.Done(); _ = k.Ensure(ctx) }()
			}
			wg.Wait()
			if err := a.Ensure(ctx); err != nil {
				t.Fatal(err)
			}
			kidA, _, err := a.Signer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			kidB, _, _ := b.Signer(ctx)
			if kidA != kidB {
				t.Fatalf("replicas sign with different keys: %s vs %s", kidA, kidB)
			}
			before := map[string]bool{}
			jwks, _ := a.JWKS(ctx)
			for _, k := range jwks {
				before[k.Kid] = true
			}
			if len(before) < 2 {
				t.Fatalf("no next key is published before it signs: %+v", jwks)
			}

			// Timed rotation fires on both replicas at the same moment: one rotation.
			clk.advance(time.Hour + time.Second)
			var rotations atomic.Int32
			for _, k := range []*txsign.Keyring{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rotated, err := k.RotateIfDue(ctx)
					if err != nil {
						t.Errorf("rotate: %v", err)
					}
					if rotated {
						rotations.Add(1)
					}
				}()
			}
			wg.Wait()
			if rotations.Load() != 1 {
				t.Fatalf("%d rotations, want 1", rotations.Load())
			}
			clk.advance(2 * time.Second) // past both replicas' caches
			newA, _, _ := a.Signer(ctx)
			newB, _, _ := b.Signer(ctx)
			if newA != newB || newA == kidA || !before[newA] {
				t.Fatalf("after rotation a=%s b=%s (was %s): the new signer must be a key published before", newA, newB, kidA)
			}
			keys, _ := st.ListSigningKeys(ctx)
			counts := map[store.SigningKeyState]int{}
			for _, k := range keys {
				counts[k.State]++
			}
			if counts[store.KeyActive] != 1 || counts[store.KeyNext] < 1 || counts[store.KeyRetired] < 1 {
				t.Fatalf("states after one rotation: %v", counts)
			}
			published := func() map[string]bool {
				m := map[string]bool{}
				ks, _ := a.JWKS(ctx)
				for _, k := range ks {
					m[k.Kid] = true
				}
				return m
			}
			if !published()[kidA] {
				t.Fatal("the retired key left the JWKS while its tokens may be valid")
			}
			if _, err := a.Key(ctx, kidA); err != nil {
				t.Fatalf("retired key no longer verifies: %v", err)
			}
			clk.advance(300*time.Second + 2*time.Minute)
			if published()[kidA] {
				t.Fatal("the retired key is still published after every token it signed expired")
			}
		})
	}
}

func TestRotateIfDue(t *testing.T) {
	st := sqltest.OpenSQLite(t)
	clk := newClock()
	k := txsign.NewKeyring(st, ring(t), txsign.KeyringConfig{RotateEvery: time.Hour, CacheFor: time.Nanosecond, Now: clk.now})
	ctx := context.Background()
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first, _, _ := k.Signer(ctx)
	if rotated, err := k.RotateIfDue(ctx); rotated || err != nil {
		t.Fatalf("rotated early: %v %v", rotated, err)
	}
	clk.advance(time.Hour + time.Second)
	if rotated, err := k.RotateIfDue(ctx); !rotated || err != nil {
		t.Fatalf("not rotated when due: %v %v", rotated, err)
	}
	if second, _, _ := k.Signer(ctx); second == first {
		t.Fatal("signer unchanged after rotation")
	}
}

func TestPrivateKeysAreSealed(t *testing.T) {
	st := sqltest.OpenSQLite(t)
	k := txsign.NewKeyring(st, ring(t), txsign.KeyringConfig{})
	ctx := context.Background()
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	keys, _ := st.ListSigningKeys(ctx)
	other, _ := kek.New([][]byte{bytes.Repeat([]byte{1}, 32)})
	for _, sk := range keys {
		if _, err := other.Open(sk.PrivateKey, []byte("signet-signing-key:"+sk.ID)); err == nil {
			t.Fatal("a private key opens under another KEK")
		}
		if _, err := ring(t).Open(sk.PrivateKey, []byte("signet-signing-key:"+sk.ID)); err != nil {
			t.Fatalf("private key does not open under its KEK: %v", err)
		}
	}
	wrong := txsign.NewKeyring(st, other, txsign.KeyringConfig{})
	if _, _, err := wrong.Signer(ctx); err == nil {
		t.Fatal("signing with the wrong KEK must fail")
	}
}

// TestConcurrentReaders: the JWKS endpoint, token minting and verification
// read the cached key table at the same time.
func TestConcurrentReaders(t *testing.T) {
	st := sqltest.OpenSQLite(t)
	k := txsign.NewKeyring(st, ring(t), txsign.KeyringConfig{CacheFor: time.Hour})
	ctx := context.Background()
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rotate(ctx); err != nil { // retired, active, next: not in published order
		t.Fatal(err)
	}
	kid, _, _ := k.Signer(ctx)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if jwks, err := k.JWKS(ctx); err != nil || len(jwks) != 3 || jwks[0].Kid != kid {
					t.Errorf("jwks %v %v", jwks, err)
					return
				}
				if _, err := k.Key(ctx, kid); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// downStore is a key table that can be made unreadable, as during a PostgreSQL restart.
type downStore struct {
	store.Store
	down  atomic.Bool
	reads atomic.Int32
	hang  chan struct{} // when set, reads wait for it to close,
	held  chan struct{} // after a send here saying one is held
}

func (d *downStore) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	d.reads.Add(1)
	if d.hang != nil {
		d.held <- struct{}{}
		select {
		case <-d.hang:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if d.down.Load() {
		return nil, errors.New("connection refused")
	}
	return d.Store.ListSigningKeys(ctx)
}

// TestVerificationOutlivesAStoreOutage: while the key table cannot be read,
// tokens still verify against the last table read (consuming needs only the
// replay store), up to MaxStale; signing does not use a stale table, and a
// kid the cached table does not hold is "unavailable", never "unknown".
func TestVerificationOutlivesAStoreOutage(t *testing.T) {
	ds := &downStore{Store: sqltest.OpenSQLite(t)}
	clk := newClock()
	k := txsign.NewKeyring(ds, ring(t), txsign.KeyringConfig{CacheFor: 10 * time.Second, MaxStale: time.Minute, Now: clk.now})
	ctx := context.Background()
	if err := k.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	kid, _, err := k.Signer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds.down.Store(true)
	clk.advance(30 * time.Second) // the cache is stale; the store is down
	if _, err := k.Key(ctx, kid); err != nil {
		t.Fatalf("verification key during the outage: %v", err)
	}
	if _, _, err := k.Signer(ctx); err == nil {
		t.Fatal("signed with a stale key table")
	}
	if _, err := k.Key(ctx, "no-such-kid"); !errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("unknown kid during the outage: %v, want ErrUnavailable", err)
	}
	ds.reads.Store(0)
	for range 10 {
		if _, err := k.Key(ctx, kid); err != nil {
			t.Fatal(err)
		}
	}
	if n := ds.reads.Load(); n != 0 {
		t.Fatalf("%d key table reads within a second of a failed one, want 0", n)
	}
	clk.advance(time.Second)
	// A store that hangs holds up the one verification re-reading it, not the others.
	ds.hang, ds.held = make(chan struct{}), make(chan struct{}, 1)
	first := make(chan error)
	go func() { _, err := k.Key(ctx, kid); first <- err }()
	<-ds.held // the first verification is inside the hanging read
	ds.reads.Store(0)
	// Were it to read too, it would hang until this bound.
	beside, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := k.Key(beside, kid); err != nil || ds.reads.Load() != 0 {
		t.Fatalf("verification beside a hanging re-read: %v after %d reads of its own", err, ds.reads.Load())
	}
	close(ds.hang)
	if err := <-first; err != nil {
		t.Fatalf("the verification that re-read a hanging store: %v", err)
	}
	ds.hang = nil
	clk.advance(30 * time.Second) // past MaxStale
	if _, err := k.Key(ctx, kid); !errors.Is(err, verify.ErrUnavailable) {
		t.Fatalf("verification key past MaxStale: %v, want ErrUnavailable", err)
	}
	ds.down.Store(false)
	if _, err := k.Key(ctx, kid); err != nil {
		t.Fatalf("verification key after the outage: %v", err)
	}
}

// TestEnsureCreatesOneActiveKey: replicas starting together on an empty database create one
// active and one next key between them, not one each (the store's signing-keys lock), so every
// replica signs with the same key from its first token.
func TestEnsureCreatesOneActiveKey(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			cfg := txsign.KeyringConfig{RotateEvery: time.Hour, MaxTokenTTL: 300 * time.Second}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 8 {
				k := txsign.NewKeyring(st, ring(t), cfg)
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					if err := k.Ensure(ctx); err != nil {
						t.Error(err)
					}
				}()
			}
			close(start)
			wg.Wait()
			keys, err := st.ListSigningKeys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			count := map[store.SigningKeyState]int{}
			for _, k := range keys {
				count[k.State]++
			}
			if count[store.KeyActive] != 1 || count[store.KeyNext] != 1 {
				t.Fatalf("8 replicas starting at once made %v", count)
			}
		})
	}
}
