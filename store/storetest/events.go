package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

func testAudit(t *testing.T, newStore NewStore) {
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		e := store.AuditEvent{ID: "evt-1", Time: base, Type: "operation.approve", Outcome: "success"}
		noErr(t, "AppendAudit", s.AppendAudit(ctxT(t), &e))
		dup := store.AuditEvent{ID: "evt-1", Time: base, Type: "operation.approve", Outcome: "success"}
		wantErr(t, "AppendAudit with a taken ID", s.AppendAudit(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("invalid cursor", func(t *testing.T) {
		s := newStore(t)
		wantErr(t, "ListAudit with a garbage cursor", func() error {
			_, _, err := s.ListAudit(ctxT(t), store.AuditFilter{Cursor: "not a cursor!"})
			return err
		}(), store.ErrInvalidCursor)
	})
	t.Run("no update or delete in the contract", func(t *testing.T) {
		typ := reflect.TypeOf((*store.Store)(nil)).Elem()
		for i := range typ.NumMethod() {
			name := typ.Method(i).Name
			if strings.Contains(name, "Audit") && name != "AppendAudit" && name != "ListAudit" {
				t.Errorf("store.Store has %s: the audit log is append-only", name)
			}
		}
	})
	t.Run("append and list", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		e := store.AuditEvent{Time: base, Type: "operation.approve", Outcome: "failure", Reason: "bad signature",
			Actor: "device", UserID: "u1", OperationID: "op1", CredentialID: "c1", Evidence: []byte(`{"sig":"AAEC"}`)}
		noErr(t, "AppendAudit", s.AppendAudit(ctx, &e))
		if e.Seq <= 0 || e.ID == "" {
			t.Fatalf("AppendAudit did not assign Seq and ID: %+v", e)
		}
		got, next, err := s.ListAudit(ctx, store.AuditFilter{})
		noErr(t, "ListAudit", err)
		if len(got) != 1 || next != "" {
			t.Fatalf("ListAudit gave %d events and cursor %q, want 1 and none", len(got), next)
		}
		sameRecord(t, "ListAudit", got[0], e)
	})
	t.Run("a reader paging during concurrent appends misses nothing", func(t *testing.T) {
		// Seq order must be commit order: otherwise an event that commits
		// after a later-numbered one is skipped by a cursor that passed it.
		s := newStore(t)
		ctx := ctxT(t)
		const writers, each = 8, 25
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					e := store.AuditEvent{Time: base, Type: "t", Outcome: "success", Reason: fmt.Sprintf("%d-%d", w, i)}
					if err := s.AppendAudit(ctx, &e); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		go func() { wg.Wait(); close(done) }()
		// The reader tails the log like an exporter: it pages with cursors,
		// and once at the end it resumes after the last Seq it saw. An event
		// that became visible behind that Seq would be missed for good.
		seen := map[string]int{}
		var lastSeq int64
		drain := func() {
			cursor := ""
			for {
				page, next, err := s.ListAudit(ctx, store.AuditFilter{Cursor: cursor, Limit: 50})
				noErr(t, "ListAudit", err)
				for _, e := range page {
					if e.Seq > lastSeq {
						seen[e.Reason]++
						lastSeq = e.Seq
					}
				}
				if next == "" {
					return
				}
				cursor = next
			}
		}
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			drain()
		}
		drain()
		if len(seen) != writers*each {
			t.Fatalf("the paging reader saw %d of %d events", len(seen), writers*each)
		}
		for r, n := range seen {
			if n != 1 {
				t.Fatalf("event %s seen %d times", r, n)
			}
		}
	})

	t.Run("seq increases, pages cover everything once", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		const n = 105
		var all []store.AuditEvent
		for i := range n {
			e := store.AuditEvent{Time: base.Add(time.Duration(i) * time.Second), Type: "t", Outcome: "success",
				UserID: fmt.Sprintf("u%d", i%3)}
			noErr(t, "AppendAudit", s.AppendAudit(ctx, &e))
			if i > 0 && e.Seq <= all[i-1].Seq {
				t.Fatalf("Seq %d after %d: not strictly increasing", e.Seq, all[i-1].Seq)
			}
			all = append(all, e)
		}

		// The default page is 100 events.
		page, next, err := s.ListAudit(ctx, store.AuditFilter{})
		noErr(t, "ListAudit", err)
		if len(page) != 100 || next == "" {
			t.Fatalf("default page: %d events, cursor %q; want 100 and a cursor", len(page), next)
		}

		for _, limit := range []int{1, 7, 50, 104, 105, 1000} {
			t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
				var got []store.AuditEvent
				cursor := ""
				for pages := 0; ; pages++ {
					if pages > n+1 {
						t.Fatal("pagination does not end")
					}
					page, next, err := s.ListAudit(ctx, store.AuditFilter{Limit: limit, Cursor: cursor})
					noErr(t, "ListAudit", err)
					if len(page) > limit {
						t.Fatalf("page of %d events for limit %d", len(page), limit)
					}
					got = append(got, page...)
					if next == "" {
						break
					}
					cursor = next
				}
				if len(got) != n {
					t.Fatalf("pages hold %d events, want %d", len(got), n)
				}
				for i := range got {
					sameRecord(t, fmt.Sprintf("event %d", i), got[i], all[i])
				}
			})
		}

		t.Run("filtered pages", func(t *testing.T) {
			var got []store.AuditEvent
			cursor := ""
			for {
				page, next, err := s.ListAudit(ctx, store.AuditFilter{UserID: "u1", Limit: 4, Cursor: cursor})
				noErr(t, "ListAudit", err)
				got = append(got, page...)
				if next == "" {
					break
				}
				cursor = next
			}
			if len(got) != 35 {
				t.Fatalf("user u1 has %d events over the pages, want 35", len(got))
			}
			for i, e := range got {
				if e.UserID != "u1" || (i > 0 && e.Seq <= got[i-1].Seq) {
					t.Fatalf("event %d: user %q seq %d", i, e.UserID, e.Seq)
				}
			}
		})
	})
	t.Run("filters", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		add := func(sec int, user, op, cred string) store.AuditEvent {
			e := store.AuditEvent{Time: base.Add(time.Duration(sec) * time.Second), Type: "t", Outcome: "success",
				UserID: user, OperationID: op, CredentialID: cred}
			noErr(t, "AppendAudit", s.AppendAudit(ctx, &e))
			return e
		}
		e0 := add(0, "u1", "op1", "c1")
		e1 := add(10, "u1", "op2", "c2")
		e2 := add(20, "u2", "op3", "c1")
		e3 := add(30, "u2", "", "")
		tests := []struct {
			name string
			f    store.AuditFilter
			want []store.AuditEvent
		}{
			{"no match", store.AuditFilter{UserID: "u1", OperationID: "op3"}, nil},
			{"until before everything", store.AuditFilter{Until: base}, nil},
			{"all", store.AuditFilter{}, []store.AuditEvent{e0, e1, e2, e3}},
			{"user", store.AuditFilter{UserID: "u2"}, []store.AuditEvent{e2, e3}},
			{"operation", store.AuditFilter{OperationID: "op2"}, []store.AuditEvent{e1}},
			{"credential", store.AuditFilter{CredentialID: "c1"}, []store.AuditEvent{e0, e2}},
			{"since is inclusive", store.AuditFilter{Since: base.Add(20 * time.Second)}, []store.AuditEvent{e2, e3}},
			{"until is exclusive", store.AuditFilter{Until: base.Add(20 * time.Second)}, []store.AuditEvent{e0, e1}},
			{"window", store.AuditFilter{Since: base.Add(5 * time.Second), Until: base.Add(25 * time.Second)}, []store.AuditEvent{e1, e2}},
			{"user and credential", store.AuditFilter{UserID: "u1", CredentialID: "c1"}, []store.AuditEvent{e0}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, next, err := s.ListAudit(ctx, tt.f)
				noErr(t, "ListAudit", err)
				if next != "" {
					t.Fatalf("cursor %q on a complete page", next)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %d events, want %d", len(got), len(tt.want))
				}
				for i := range got {
					sameRecord(t, fmt.Sprintf("event %d", i), got[i], tt.want[i])
				}
			})
		}
	})
}

func testCeremonies(t *testing.T, newStore NewStore) {
	mk := func(t *testing.T, s store.Store, c store.Ceremony) store.Ceremony {
		t.Helper()
		if c.Kind == "" {
			c.Kind = "enrollment"
		}
		if c.ExpiresAt.IsZero() {
			c.ExpiresAt = base.Add(10 * time.Minute)
		}
		noErr(t, "CreateCeremony", s.CreateCeremony(ctxT(t), &c))
		return c
	}
	t.Run("duplicate kind and lookup key", func(t *testing.T) {
		s := newStore(t)
		mk(t, s, store.Ceremony{Kind: "registration_code", LookupKey: "h1"})
		dup := store.Ceremony{Kind: "registration_code", LookupKey: "h1", ExpiresAt: base}
		wantErr(t, "CreateCeremony with a taken (kind, lookup key)", s.CreateCeremony(ctxT(t), &dup), store.ErrAlreadyExists)
		mk(t, s, store.Ceremony{Kind: "enrollment", LookupKey: "h1"}) // another kind
		mk(t, s, store.Ceremony{Kind: "webauthn_login"})              // empty keys never collide
		mk(t, s, store.Ceremony{Kind: "webauthn_login"})
	})
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		c := mk(t, s, store.Ceremony{})
		dup := store.Ceremony{ID: c.ID, Kind: "x", ExpiresAt: base}
		wantErr(t, "CreateCeremony with a taken ID", s.CreateCeremony(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("update of a row deleted meanwhile", func(t *testing.T) {
		s := newStore(t)
		c := mk(t, s, store.Ceremony{ExpiresAt: base})
		_, err := s.UpdateCeremony(ctxT(t), c.ID, func(v *store.Ceremony) error {
			if _, err := s.DeleteExpiredCeremonies(ctxT(t), base.Add(time.Hour)); err != nil {
				return err
			}
			v.Attempts++
			return nil
		})
		wantErr(t, "UpdateCeremony of a ceremony deleted during the update", err, store.ErrNotFound)
	})
	t.Run("consume expired", func(t *testing.T) {
		s := newStore(t)
		c := mk(t, s, store.Ceremony{ExpiresAt: base})
		_, err := s.ConsumeCeremony(ctxT(t), c.ID, base.Add(time.Second))
		wantErr(t, "ConsumeCeremony after expiry", err, store.ErrNotFound)
		_, err = s.ConsumeCeremony(ctxT(t), c.ID, base)
		wantErr(t, "ConsumeCeremony at the expiry instant", err, store.ErrNotFound)
		got, err := s.GetCeremony(ctxT(t), c.ID)
		noErr(t, "GetCeremony", err)
		if got.ConsumedAt != nil {
			t.Fatal("an expired ceremony was marked consumed")
		}
	})
	t.Run("consume twice", func(t *testing.T) {
		s := newStore(t)
		c := mk(t, s, store.Ceremony{})
		now := base.Add(time.Minute)
		got, err := s.ConsumeCeremony(ctxT(t), c.ID, now)
		noErr(t, "ConsumeCeremony", err)
		if got.ConsumedAt == nil || !got.ConsumedAt.Equal(now) {
			t.Fatalf("ConsumedAt = %v, want %v", got.ConsumedAt, now)
		}
		_, err = s.ConsumeCeremony(ctxT(t), c.ID, now)
		wantErr(t, "second ConsumeCeremony", err, store.ErrNotFound)
	})
	t.Run("consume exactly once under contention", func(t *testing.T) {
		s := newStore(t)
		c := mk(t, s, store.Ceremony{})
		const n = 20
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners int
			others  []error
		)
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				_, err := s.ConsumeCeremony(ctxT(t), c.ID, base)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					winners++
				} else if !errors.Is(err, store.ErrNotFound) {
					others = append(others, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if winners != 1 || len(others) > 0 {
			t.Fatalf("%d winners (want 1), unexpected errors %v", winners, others)
		}
	})
	t.Run("create get lookup update", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		c := mk(t, s, store.Ceremony{Kind: "registration_code", LookupKey: "sha256:abc", UserID: "u1",
			OperationID: "op1", Data: []byte(`{"session":1}`)})
		if c.ID == "" || c.Version != 1 || c.CreatedAt.IsZero() {
			t.Fatalf("CreateCeremony did not assign ID, Version 1 and CreatedAt: %+v", c)
		}
		got, err := s.GetCeremony(ctx, c.ID)
		noErr(t, "GetCeremony", err)
		sameRecord(t, "GetCeremony", got, c)
		got, err = s.GetCeremonyByLookupKey(ctx, "registration_code", "sha256:abc")
		noErr(t, "GetCeremonyByLookupKey", err)
		sameRecord(t, "GetCeremonyByLookupKey", got, c)
		_, err = s.GetCeremonyByLookupKey(ctx, "enrollment", "sha256:abc")
		wantErr(t, "GetCeremonyByLookupKey with another kind", err, store.ErrNotFound)
		up, err := s.UpdateCeremony(ctx, c.ID, func(v *store.Ceremony) error { v.Attempts++; return nil })
		noErr(t, "UpdateCeremony", err)
		want := c
		want.Attempts, want.Version = 1, 2
		sameRecord(t, "UpdateCeremony result", up, want)
		consumed, err := s.ConsumeCeremony(ctx, c.ID, base)
		noErr(t, "ConsumeCeremony", err)
		want.ConsumedAt = ptr(base)
		if consumed.Version <= up.Version {
			t.Fatalf("ConsumeCeremony left Version at %d", consumed.Version)
		}
		want.Version = consumed.Version
		sameRecord(t, "ConsumeCeremony result", consumed, want)
	})
	t.Run("delete expired", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		old1 := mk(t, s, store.Ceremony{ExpiresAt: base.Add(-2 * time.Minute)})
		old2 := mk(t, s, store.Ceremony{ExpiresAt: base.Add(-time.Minute)})
		_, err := s.ConsumeCeremony(ctx, old2.ID, base.Add(-90*time.Second))
		noErr(t, "ConsumeCeremony", err)
		live := mk(t, s, store.Ceremony{ExpiresAt: base.Add(time.Minute)})
		n, err := s.DeleteExpiredCeremonies(ctx, base)
		noErr(t, "DeleteExpiredCeremonies", err)
		if n != 2 {
			t.Fatalf("deleted %d ceremonies, want 2", n)
		}
		for _, id := range []string{old1.ID, old2.ID} {
			_, err := s.GetCeremony(ctx, id)
			wantErr(t, "GetCeremony of a deleted ceremony", err, store.ErrNotFound)
		}
		_, err = s.GetCeremony(ctx, live.ID)
		noErr(t, "GetCeremony of a live ceremony", err)
		n, err = s.DeleteExpiredCeremonies(ctx, base)
		noErr(t, "DeleteExpiredCeremonies again", err)
		if n != 0 {
			t.Fatalf("second sweep deleted %d", n)
		}
	})
}

func testOutbox(t *testing.T, newStore NewStore) {
	enqueue := func(t *testing.T, s store.Store, e store.OutboxEvent) store.OutboxEvent {
		t.Helper()
		if e.Endpoint == "" {
			e.Endpoint = "https://bank.example/hook"
		}
		if e.Type == "" {
			e.Type = "operation.approved"
		}
		noErr(t, "EnqueueOutbox", s.EnqueueOutbox(ctxT(t), &e))
		return e
	}
	ids := func(es []store.OutboxEvent) map[string]bool {
		m := map[string]bool{}
		for _, e := range es {
			m[e.ID] = true
		}
		return m
	}
	t.Run("prune", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		old, recent := base.Add(-48*time.Hour), base.Add(-time.Hour)
		parked := base.Add(100 * 365 * 24 * time.Hour)
		at := func(d time.Time) *time.Time { return &d }
		pruned := map[string]bool{}
		for _, tc := range []struct {
			e     store.OutboxEvent
			prune bool
		}{
			{store.OutboxEvent{CreatedAt: old, NextAttemptAt: old, DeliveredAt: at(old.Add(time.Second))}, true},    // delivered, old
			{store.OutboxEvent{CreatedAt: old, NextAttemptAt: parked}, true},                                        // parked, old
			{store.OutboxEvent{CreatedAt: old, NextAttemptAt: base.Add(time.Minute)}, false},                        // still retried
			{store.OutboxEvent{CreatedAt: recent, NextAttemptAt: recent, DeliveredAt: at(recent)}, false},           // delivered, recent
			{store.OutboxEvent{CreatedAt: recent, NextAttemptAt: parked}, false},                                    // parked, recent
			{store.OutboxEvent{CreatedAt: old.Add(time.Minute), NextAttemptAt: old, DeliveredAt: at(recent)}, true}, // delivered late
		} {
			pruned[enqueue(t, s, tc.e).ID] = tc.prune
		}
		before, parkedAfter := base.Add(-24*time.Hour), base.Add(50*365*24*time.Hour)
		n, err := s.PruneOutbox(ctx, before, parkedAfter, 2)
		noErr(t, "PruneOutbox", err)
		if n != 2 {
			t.Fatalf("limit 2 pruned %d", n)
		}
		n, err = s.PruneOutbox(ctx, before, parkedAfter, 10)
		noErr(t, "PruneOutbox", err)
		if n != 1 {
			t.Fatalf("the second pass pruned %d, want the 1 left", n)
		}
		if n, err := s.PruneOutbox(ctx, before, parkedAfter, 10); err != nil || n != 0 {
			t.Fatalf("a third pass pruned %d (%v), want 0", n, err)
		}
		for id, want := range pruned {
			_, err := s.UpdateOutbox(ctx, id, func(*store.OutboxEvent) error { return errVeto })
			if still := !errors.Is(err, store.ErrNotFound); still == want {
				t.Errorf("event %s: pruned %v, want %v (%v)", id, !still, want, err)
			}
		}
	})
	t.Run("duplicate id", func(t *testing.T) {
		s := newStore(t)
		e := enqueue(t, s, store.OutboxEvent{NextAttemptAt: base})
		dup := store.OutboxEvent{ID: e.ID, Endpoint: "x", Type: "y", NextAttemptAt: base}
		wantErr(t, "EnqueueOutbox with a taken ID", s.EnqueueOutbox(ctxT(t), &dup), store.ErrAlreadyExists)
	})
	t.Run("lease", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		due := enqueue(t, s, store.OutboxEvent{Payload: []byte(`{"id":1}`), NextAttemptAt: base})
		later := enqueue(t, s, store.OutboxEvent{NextAttemptAt: base.Add(time.Hour)})
		const lease = 30 * time.Second

		got, err := s.ClaimOutbox(ctx, base, lease, 10)
		noErr(t, "ClaimOutbox", err)
		if len(got) != 1 || got[0].ID != due.ID {
			t.Fatalf("claimed %v, want only the due event", ids(got))
		}
		if !got[0].NextAttemptAt.Equal(base.Add(lease)) || got[0].Version <= due.Version {
			t.Fatalf("claim set NextAttemptAt %v Version %d; want %v and a new version", got[0].NextAttemptAt, got[0].Version, base.Add(lease))
		}
		want := due
		want.NextAttemptAt, want.Version = got[0].NextAttemptAt, got[0].Version
		sameRecord(t, "claimed event", got[0], want)

		for _, at := range []time.Time{base, base.Add(lease - time.Microsecond)} {
			again, err := s.ClaimOutbox(ctx, at, lease, 10)
			noErr(t, "ClaimOutbox", err)
			if len(again) != 0 {
				t.Fatalf("at %v, before the lease ran out, claimed %v again", at, ids(again))
			}
		}
		again, err := s.ClaimOutbox(ctx, base.Add(lease), lease, 10)
		noErr(t, "ClaimOutbox", err)
		if len(again) != 1 || again[0].ID != due.ID {
			t.Fatalf("after the lease ran out claimed %v, want the event again", ids(again))
		}

		delivered := base.Add(lease + time.Second)
		_, err = s.UpdateOutbox(ctx, due.ID, func(e *store.OutboxEvent) error {
			e.Attempts++
			e.DeliveredAt = &delivered
			return nil
		})
		noErr(t, "UpdateOutbox", err)
		far, err := s.ClaimOutbox(ctx, base.Add(24*time.Hour), lease, 10)
		noErr(t, "ClaimOutbox", err)
		if len(far) != 1 || far[0].ID != later.ID {
			t.Fatalf("a day later claimed %v, want only the undelivered event", ids(far))
		}
	})
	t.Run("limit", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		for i := range 5 {
			enqueue(t, s, store.OutboxEvent{NextAttemptAt: base.Add(time.Duration(i) * time.Second)})
		}
		got, err := s.ClaimOutbox(ctx, base.Add(time.Minute), time.Minute, 3)
		noErr(t, "ClaimOutbox", err)
		if len(got) != 3 {
			t.Fatalf("limit 3 claimed %d", len(got))
		}
		rest, err := s.ClaimOutbox(ctx, base.Add(time.Minute), time.Minute, 10)
		noErr(t, "ClaimOutbox", err)
		if len(rest) != 2 {
			t.Fatalf("second claim got %d, want the 2 left", len(rest))
		}
		for id := range ids(rest) {
			if ids(got)[id] {
				t.Fatalf("event %s claimed twice", id)
			}
		}
	})
	t.Run("concurrent claims never overlap", func(t *testing.T) {
		s := newStore(t)
		const events, workers = 60, 8
		for range events {
			enqueue(t, s, store.OutboxEvent{NextAttemptAt: base})
		}
		var (
			wg     sync.WaitGroup
			mu     sync.Mutex
			claims = map[string]int{}
			errs   []error
		)
		for range workers {
			wg.Go(func() {
				for {
					got, err := s.ClaimOutbox(ctxT(t), base, time.Hour, 4)
					mu.Lock()
					if err != nil {
						errs = append(errs, err)
					}
					for _, e := range got {
						claims[e.ID]++
					}
					mu.Unlock()
					if err != nil || len(got) == 0 {
						return
					}
				}
			})
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("ClaimOutbox errors: %v", errs)
		}
		if len(claims) != events {
			t.Fatalf("%d distinct events claimed, want %d", len(claims), events)
		}
		for id, n := range claims {
			if n != 1 {
				t.Fatalf("event %s claimed %d times within its lease", id, n)
			}
		}
	})
	t.Run("update", func(t *testing.T) {
		s := newStore(t)
		e := enqueue(t, s, store.OutboxEvent{NextAttemptAt: base})
		if e.ID == "" || e.Version != 1 || e.CreatedAt.IsZero() {
			t.Fatalf("EnqueueOutbox did not assign ID, Version 1 and CreatedAt: %+v", e)
		}
		up, err := s.UpdateOutbox(ctxT(t), e.ID, func(v *store.OutboxEvent) error {
			v.Attempts, v.LastError, v.NextAttemptAt = 1, "503 Service Unavailable", base.Add(time.Minute)
			return nil
		})
		noErr(t, "UpdateOutbox", err)
		want := e
		want.Attempts, want.LastError, want.NextAttemptAt, want.Version = 1, "503 Service Unavailable", base.Add(time.Minute), 2
		sameRecord(t, "UpdateOutbox result", up, want)
	})
}
