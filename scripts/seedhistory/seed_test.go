package main

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// TestSeedLandsReadableRows seeds a small history into a fresh PostgreSQL schema and reads it
// back through Signet's own store: every operation is in a final state whose fields agree (its
// dynamic-linking digest is the one Signet computes from what the store returns), every event
// sits in its own month's partition, and the audit API's filter finds each operation's events.
func TestSeedLandsReadableRows(t *testing.T) {
	url := sqltest.NewPostgresSchema(t) // a schema of its own, dropped at the end
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	conn2, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)

	now := time.Now().UTC()
	const users, ops, months = 40, 600, 3
	res, err := Seed(ctx, conn, conn2, Options{Users: users, Operations: ops, Months: months, Now: now, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != users || res.Credentials != users+users/2 || res.Operations != ops || res.AuditEvents != 2*ops {
		t.Fatalf("wrote %+v", res)
	}
	if len(res.Partitions) != months {
		t.Fatalf("partitions %v, want one per seeded month", res.Partitions)
	}

	// Partitions: each event in the partition named after its month; none in the default one.
	parts, err := st.AuditPartitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Partitions {
		if _, ok := parts[p]; !ok {
			t.Errorf("partition %s missing from the store's view %v", p, parts)
		}
	}
	var misplaced, inDefault int
	if err := conn.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE tableoid::regclass::text <> 'audit_events_p' || to_char(time AT TIME ZONE 'UTC', 'YYYYMM')),
			count(*) FILTER (WHERE tableoid::regclass::text = 'audit_events_default')
		FROM audit_events`).Scan(&misplaced, &inDefault); err != nil {
		t.Fatal(err)
	}
	if misplaced != 0 || inDefault != 0 {
		t.Fatalf("%d events outside their month's partition, %d in audit_events_default", misplaced, inDefault)
	}

	// Operations, read through the store.
	seededUsers, err := st.ListOperations(ctx, store.OperationFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(seededUsers) != ops {
		t.Fatalf("the store lists %d operations, want %d", len(seededUsers), ops)
	}
	states := map[store.OperationStatus]int{}
	for i, listed := range seededUsers {
		op, err := st.GetOperation(ctx, listed.ID)
		if err != nil {
			t.Fatalf("get operation %s: %v", listed.ID, err)
		}
		states[op.Status]++
		if !store.ValidID(op.ID) || !op.Status.Terminal() || op.CreatedAt.Before(res.Start) || !op.CreatedAt.Before(now) ||
			!op.ExpiresAt.After(op.CreatedAt) || op.UpdatedAt.Before(op.CreatedAt) {
			t.Fatalf("operation %+v", op)
		}
		if dl := txsign.ComputeDL(txsign.DLInputs(op)); string(dl[:]) != string(op.DL) {
			t.Fatalf("operation %s: stored DL does not match the one Signet computes from the stored fields", op.ID)
		}
		if amt, err := txsign.CanonicalAmount(op.Amount, op.Currency); err != nil || amt != op.Amount {
			t.Fatalf("operation %s: amount %q %s not canonical (%q, %v)", op.ID, op.Amount, op.Currency, amt, err)
		}
		if acct, err := txsign.NormalizeAccount(op.PayeeAccount); err != nil || acct != op.PayeeAccount {
			t.Fatalf("operation %s: payee account %q not normalized (%q, %v)", op.ID, op.PayeeAccount, acct, err)
		}
		wantDecision := map[store.OperationStatus]string{store.OpApproved: "operation.approve", store.OpRejected: "operation.reject",
			store.OpExpired: "operation.expire", store.OpCanceled: "operation.cancel"}[op.Status]
		if op.Status == store.OpApproved {
			if op.ApprovedAt == nil || op.ApprovedAt.Before(op.CreatedAt) || op.TokenJTI == "" {
				t.Fatalf("approved operation %+v", op)
			}
			cred, err := st.GetCredential(ctx, op.ApprovedCredentialID)
			if err != nil || cred.UserID != op.UserID || cred.Status != store.StatusActive {
				t.Fatalf("operation %s approved by credential %q: %+v, %v", op.ID, op.ApprovedCredentialID, cred, err)
			}
			if cred.Kind == store.KindDeviceKey {
				if _, err := x509.ParsePKIXPublicKey(cred.PublicKey); err != nil {
					t.Fatalf("device key %s: %v", cred.ID, err)
				}
			}
		}
		if i%20 != 0 {
			continue
		}
		evs, _, err := st.ListAudit(ctx, store.AuditFilter{OperationID: op.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Type != "operation.create" || evs[1].Type != wantDecision || evs[1].UserID != op.UserID ||
			!evs[0].Time.Equal(op.CreatedAt) || evs[1].Time.Before(evs[0].Time) {
			t.Fatalf("events of %s operation %s: %+v", op.Status, op.ID, evs)
		}
	}
	for _, s := range []store.OperationStatus{store.OpApproved, store.OpRejected, store.OpExpired, store.OpCanceled} {
		if states[s] == 0 {
			t.Errorf("no %s operation among %v", s, states)
		}
	}

	// A second seed into the same database is refused.
	if _, err := Seed(ctx, conn, conn2, Options{Users: 1, Operations: 1, Months: 1, Now: now}); err == nil {
		t.Fatal("seeding a database that holds operations succeeded")
	}
}
