package txsign_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
)

func newService(t *testing.T, clk *clock) (*txsign.Service, store.Store, string) {
	t.Helper()
	st := sqltest.OpenSQLite(t)
	svc := configuredService(t, clk, st, txsign.Config{Issuer: "https://signet.example", Audience: "payments"})
	return svc, st, newUser(t, clk, st).ID
}

func payment(userID string) txsign.NewOperation {
	return txsign.NewOperation{UserID: userID, Type: "payment", PayeeAccount: "DE89370400440532013000",
		PayeeName: "ACME GmbH", Amount: "12.5", Currency: "EUR", ExpiresIn: time.Minute}
}

func TestSweeperExpiresDueOperations(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	ctx := context.Background()
	short, _, _ := svc.Create(ctx, "bank", payment(uid))
	long := payment(uid)
	long.ExpiresIn = time.Hour
	kept, _, _ := svc.Create(ctx, "bank", long)
	if n, err := svc.ExpireDue(ctx); n != 0 || err != nil {
		t.Fatalf("expired %d early (%v)", n, err)
	}
	clk.advance(61 * time.Second)
	if n, err := svc.ExpireDue(ctx); n != 1 || err != nil {
		t.Fatalf("expired %d, want 1 (%v)", n, err)
	}
	a, _ := st.GetOperation(ctx, short.ID)
	b, _ := st.GetOperation(ctx, kept.ID)
	if a.Status != store.OpExpired || b.Status != store.OpPending {
		t.Fatalf("statuses %s %s", a.Status, b.Status)
	}
	evs, _, _ := st.ListAudit(ctx, store.AuditFilter{OperationID: short.ID})
	if len(evs) != 2 || evs[1].Type != "operation.expire" {
		t.Fatalf("audit %+v", evs)
	}
}

func TestCreateCanonicalisesAndBindsDL(t *testing.T) {
	clk := newClock()
	svc, _, uid := newService(t, clk)
	op, created, err := svc.Create(context.Background(), "bank", payment(uid))
	if err != nil || !created {
		t.Fatal(err)
	}
	if op.Amount != "12.50" || op.ExpiresAt.Nanosecond() != 0 || len(op.Nonce) != 22 {
		t.Fatalf("%+v", op)
	}
	dl := txsign.ComputeDL(txsign.DLInputs(op))
	if !bytes.Equal(dl[:], op.DL) {
		t.Fatal("stored DL does not match the stored inputs")
	}
}

func TestIdempotentCreateUnderRace(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	in := payment(uid)
	in.IdempotencyKey = "order-7"
	var wg sync.WaitGroup
	ids := sync.Map{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op, _, err := svc.Create(context.Background(), "bank", in)
			if err != nil {
				t.Error(err)
				return
			}
			ids.Store(op.ID, true)
		}()
	}
	wg.Wait()
	n := 0
	ids.Range(func(any, any) bool { n++; return true })
	ops, _ := st.ListOperations(context.Background(), store.OperationFilter{UserID: uid})
	if n != 1 || len(ops) != 1 {
		t.Fatalf("%d ids, %d operations", n, len(ops))
	}
}

// failingUpdates lets reads through and fails operation updates, as a
// database that went away between two statements would.
type failingUpdates struct {
	store.Store
	fail bool
}

func (f *failingUpdates) UpdateOperationFrom(ctx context.Context, cur store.Operation, fn func(*store.Operation) error) (store.Operation, error) {
	if f.fail {
		return store.Operation{}, fmt.Errorf("update: %w", store.ErrUnavailable)
	}
	return f.Store.UpdateOperationFrom(ctx, cur, fn)
}

// approvalFixture is an operation service on st with one user and an ACTIVE
// device-key credential.
func approvalFixture(t *testing.T, clk *clock, st store.Store) (*txsign.Service, store.User, store.Credential) {
	t.Helper()
	ring, _ := kek.New([][]byte{bytes.Repeat([]byte{5}, 32)})
	keys := txsign.NewKeyring(st, ring, txsign.KeyringConfig{Now: clk.now})
	if err := keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := txsign.NewService(st, audit.New(st, clk.now, nil), keys, replay.NewMemory(clk.now), txsign.Config{Now: clk.now})
	ctx := context.Background()
	u := store.User{ID: uuid.NewString(), ExternalID: "u", CreatedAt: clk.now()}
	cred := store.Credential{ID: uuid.NewString(), UserID: u.ID, Kind: store.KindDeviceKey, Status: store.StatusActive,
		MaxFailedAttempts: 5, CreatedAt: clk.now()}
	if err := st.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateCredential(ctx, &cred); err != nil {
		t.Fatal(err)
	}
	return svc, u, cred
}

func TestUncountableFailureIsNotAPlain401(t *testing.T) {
	clk := newClock()
	st := &failingUpdates{Store: sqltest.OpenSQLite(t)}
	svc, u, cred := approvalFixture(t, clk, st)
	ctx := context.Background()
	op, _, err := svc.Create(ctx, "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	st.fail = true
	_, err = svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
		Verify: func(store.Operation, store.Credential) (txsign.Evidence, error) {
			return txsign.Evidence{}, errors.New("bad signature")
		}})
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("got %v, want the store's unavailability (503), not a plain authentication failure", err)
	}
}

func TestListAppliesExpiryToTheUsersOperationsOnly(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	ctx := context.Background()
	mine, _, _ := svc.Create(ctx, "bank", payment(uid))
	other := store.User{ID: uuid.NewString(), ExternalID: "other", CreatedAt: clk.now()}
	_ = st.CreateUser(ctx, &other)
	theirs, _, _ := svc.Create(ctx, "bank", payment(other.ID))
	clk.advance(2 * time.Minute)
	pending, err := svc.List(ctx, uid, "PENDING")
	if err != nil || len(pending) != 0 {
		t.Fatalf("an expired operation listed as PENDING: %v %v", pending, err)
	}
	if op, _ := st.GetOperation(ctx, mine.ID); op.Status != store.OpExpired {
		t.Fatalf("listed operation %s, want EXPIRED", op.Status)
	}
	if op, _ := st.GetOperation(ctx, theirs.ID); op.Status != store.OpPending {
		t.Fatalf("another user's operation was swept on this user's read: %s", op.Status)
	}
}

// countingReads counts the approval path's reads of operations and
// credentials: its own, and those an Update without a starting copy makes
// inside the store.
type countingReads struct {
	store.Store
	ops, creds atomic.Int32
	trips      atomic.Int32 // read round trips
}

func (c *countingReads) GetOperation(ctx context.Context, id string) (store.Operation, error) {
	c.ops.Add(1)
	c.trips.Add(1)
	return c.Store.GetOperation(ctx, id)
}

func (c *countingReads) GetOperationWithCredential(ctx context.Context, opID, credID string) (store.Operation, store.Credential, error) {
	c.ops.Add(1)
	c.creds.Add(1)
	c.trips.Add(1)
	return c.Store.GetOperationWithCredential(ctx, opID, credID)
}

func (c *countingReads) GetCredential(ctx context.Context, id string) (store.Credential, error) {
	c.creds.Add(1)
	c.trips.Add(1)
	return c.Store.GetCredential(ctx, id)
}

func (c *countingReads) UpdateOperation(ctx context.Context, id string, fn func(*store.Operation) error) (store.Operation, error) {
	c.ops.Add(1)
	c.trips.Add(1)
	return c.Store.UpdateOperation(ctx, id, fn)
}

func (c *countingReads) UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error) {
	c.creds.Add(1)
	c.trips.Add(1)
	return c.Store.UpdateCredential(ctx, id, fn)
}

// countedApproval is approvalFixture on a countingReads store with one
// PENDING operation, the counters at zero.
func countedApproval(t *testing.T) (*txsign.Service, *countingReads, store.Operation, store.Credential) {
	t.Helper()
	st := &countingReads{Store: sqltest.OpenSQLite(t)}
	svc, u, cred := approvalFixture(t, newClock(), st)
	op, _, err := svc.Create(context.Background(), "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	st.ops.Store(0)
	st.creds.Store(0)
	st.trips.Store(0)
	return svc, st, op, cred
}

// TestDecideReadsEachRecordOnce: an uncontended approval reads the operation
// and the credential once each, in one round trip; the compare-and-swaps start
// from those copies.
func TestDecideReadsEachRecordOnce(t *testing.T) {
	svc, st, op, cred := countedApproval(t)
	ctx := context.Background()
	res, err := svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
		Verify: func(store.Operation, store.Credential) (txsign.Evidence, error) { return txsign.Evidence{}, nil }})
	if err != nil || res.Operation.Status != store.OpApproved {
		t.Fatalf("Decide: %v %v", res.Operation.Status, err)
	}
	if n, m, r := st.ops.Load(), st.creds.Load(), st.trips.Load(); n != 1 || m != 1 || r != 1 {
		t.Fatalf("one approval read the operation %d times and the credential %d times in %d round trips, want once each in one", n, m, r)
	}
	if got, _ := st.Store.GetCredential(ctx, cred.ID); got.LastUsedAt == nil || got.Version != cred.Version+1 {
		t.Fatalf("the credential's last use was not recorded: %+v", got)
	}
}

// failingSuccessAudit fails the append of an approval's success audit event,
// as a database refusing the audit insert (here: a duplicate id) would,
// whichever way the approval writes it.
type failingSuccessAudit struct {
	store.Store
	taken string // an existing audit event id
}

func isApproveSuccess(e *store.AuditEvent) bool {
	return e != nil && e.Type == "operation.approve" && e.Outcome == audit.Success
}

func (f *failingSuccessAudit) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if isApproveSuccess(e) {
		e.ID = f.taken
	}
	return f.Store.AppendAudit(ctx, e)
}

func (f *failingSuccessAudit) UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error) {
	if isApproveSuccess(also.Audit) {
		also.Audit.ID = f.taken
	}
	return f.Store.UpdateOperationWith(ctx, cur, also, fn)
}

// TestApprovalIsNotCommittedWithoutItsAudit: when the success audit event
// cannot be written, the operation stays PENDING with no token and the
// credential's use is not stamped (one transaction).
func TestApprovalIsNotCommittedWithoutItsAudit(t *testing.T) {
	clk := newClock()
	st := &failingSuccessAudit{Store: sqltest.OpenSQLite(t)}
	svc, u, cred := approvalFixture(t, clk, st)
	ctx := context.Background()
	first := &store.AuditEvent{Type: "marker"}
	if err := st.Store.AppendAudit(ctx, first); err != nil {
		t.Fatal(err)
	}
	st.taken = first.ID
	op, _, err := svc.Create(ctx, "bank", payment(u.ID))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: cred.ID, Decision: txsign.Approve,
		Verify: func(store.Operation, store.Credential) (txsign.Evidence, error) { return txsign.Evidence{}, nil }})
	if err == nil {
		t.Fatal("Decide succeeded although its audit event was refused")
	}
	got, _ := st.GetOperation(ctx, op.ID)
	if got.Status != store.OpPending || got.Token != "" {
		t.Fatalf("operation %s with token %q after its audit failed, want PENDING and no token", got.Status, got.Token)
	}
	if c, _ := st.GetCredential(ctx, cred.ID); c.LastUsedAt != nil || c.Version != cred.Version {
		t.Fatalf("credential stamped by an approval that did not commit: %+v", c)
	}
}

// TestSigningDataReadsInOneRoundTrip: the operation and the credential a
// device's signing-data request checks come back in one read.
func TestSigningDataReadsInOneRoundTrip(t *testing.T) {
	svc, st, op, cred := countedApproval(t)
	ctx := context.Background()
	got, err := svc.SigningData(ctx, op.ID, cred.ID)
	if err != nil || got.ID != op.ID {
		t.Fatalf("SigningData: %v %v", got.ID, err)
	}
	if n := st.trips.Load(); n != 1 {
		t.Fatalf("signing data took %d read round trips, want 1", n)
	}
	if _, err := svc.SigningData(ctx, op.ID, uuid.NewString()); !errors.Is(err, fault.ErrUnauthenticated) {
		t.Fatalf("SigningData for an unknown credential: %v", err)
	}
}
