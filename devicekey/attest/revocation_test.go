package attest_test

import (
	"context"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-sca/signet/devicekey/attest"
)

// TestRevocationList: the list is cached for its TTL; a failed refresh keeps consulting the
// cached copy (a revoked serial stays refused) and says it is stale; with no copy at all the
// lookup fails; a failed fetch is not retried for a minute.
func TestRevocationList(t *testing.T) {
	var fetches atomic.Int32
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"entries":{"00ab":{"status":"REVOKED","reason":"KEY_COMPROMISE"},"cd":{"status":"SUSPENDED"}}}`))
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &attest.RevocationList{URL: srv.URL, TTL: time.Hour, Now: func() time.Time { return now }}
	serials := []*big.Int{big.NewInt(0xab), big.NewInt(0xcd), big.NewInt(0xef)}
	found, stale, err := l.Lookup(context.Background(), serials)
	if err != nil || stale || len(found) != 2 || found["ab"].Status != "REVOKED" || found["cd"].Status != "SUSPENDED" {
		t.Fatalf("%v %v %v", found, stale, err)
	}
	if _, _, _ = l.Lookup(context.Background(), serials); fetches.Load() != 1 {
		t.Fatalf("%d fetches within the TTL", fetches.Load())
	}
	down.Store(true)
	now = now.Add(2 * time.Hour)
	found, stale, err = l.Lookup(context.Background(), serials)
	if err != nil || !stale || found["ab"].Status != "REVOKED" {
		t.Fatalf("stale copy: %v %v %v", found, stale, err)
	}

	empty := &attest.RevocationList{URL: srv.URL, Now: func() time.Time { return now }}
	before := fetches.Load()
	for range 3 {
		if _, _, err := empty.Lookup(context.Background(), serials); err == nil {
			t.Fatal("no list at all must be an error")
		}
	}
	if got := fetches.Load() - before; got != 1 {
		t.Fatalf("%d fetches of an unreachable list within a minute", got)
	}
	now = now.Add(2 * time.Minute)
	down.Store(false)
	if found, _, err := empty.Lookup(context.Background(), serials); err != nil || len(found) != 2 {
		t.Fatalf("after the retry delay: %v %v", found, err)
	}
}
