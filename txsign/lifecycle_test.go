package txsign_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
)

// TestCancel: the bank cancels a PENDING operation, once; an operation that already ended answers its
// state (409; 410 when it expired) and stays as it was; every attempt is audited with its outcome, and
// observers hear only the cancellation that happened.
func TestCancel(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc, u, cred := approvalFixture(t, clk, st)
	heard := &recorder{}
	svc.Observe(heard)
	ctx := context.Background()
	create := func(expiresIn time.Duration) store.Operation {
		in := payment(u.ID)
		in.ExpiresIn = expiresIn
		op, _, err := svc.Create(ctx, "bank", in)
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	pending, approved, rejected, expiring := create(time.Hour), create(time.Hour), create(time.Hour), create(30*time.Second)
	decide(t, svc, approved, cred, txsign.Approve)
	decide(t, svc, rejected, cred, txsign.Reject)
	clk.advance(30 * time.Second)

	got, err := svc.Cancel(ctx, "bank", pending.ID)
	if err != nil || got.Status != store.OpCanceled || got.ID != pending.ID {
		t.Fatalf("Cancel(PENDING) = %s, %v; want CANCELED", got.Status, err)
	}
	if ev := lastAudit(t, st, pending.ID); ev.Type != "operation.cancel" || ev.Outcome != audit.Success || ev.Reason != "" ||
		ev.Actor != "bank" || ev.UserID != u.ID {
		t.Fatalf("cancellation audited as %+v", ev)
	}

	for _, tc := range []struct {
		name   string
		op     store.Operation
		kind   error
		reason string
		status store.OperationStatus
	}{
		{"canceled again", pending, fault.ErrConflict, "conflict: the operation is CANCELED", store.OpCanceled},
		{"approved", approved, fault.ErrConflict, "conflict: the operation is APPROVED", store.OpApproved},
		{"rejected", rejected, fault.ErrConflict, "conflict: the operation is REJECTED", store.OpRejected},
		{"expired", expiring, fault.ErrGone, "gone: the operation expired", store.OpExpired},
	} {
		_, err := svc.Cancel(ctx, "bank", tc.op.ID)
		if !errors.Is(err, tc.kind) || err.Error() != tc.reason {
			t.Errorf("Cancel(%s) = %v, want %q", tc.name, err, tc.reason)
		}
		if ev := lastAudit(t, st, tc.op.ID); ev.Type != "operation.cancel" || ev.Outcome != audit.Failure || ev.Reason != tc.reason {
			t.Errorf("Cancel(%s) audited as %s %s %q, want operation.cancel failure %q", tc.name, ev.Type, ev.Outcome, ev.Reason, tc.reason)
		}
		if now, _ := st.GetOperation(ctx, tc.op.ID); now.Status != tc.status {
			t.Errorf("Cancel(%s) left the operation %s, want %s", tc.name, now.Status, tc.status)
		}
	}
	if now, _ := st.GetOperation(ctx, approved.ID); now.Token == "" {
		t.Error("a refused cancellation took the approved operation's token")
	}

	unknown := uuid.NewString()
	if _, err := svc.Cancel(ctx, "bank", unknown); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("Cancel(unknown) = %v, want not found", err)
	}
	if evs := auditOf(t, st, unknown); len(evs) != 0 {
		t.Fatalf("cancelling an unknown operation was audited: %+v", evs)
	}
	// Four creations, the approval, the rejection, the one cancellation, and the expiry the refused
	// cancellation found; nothing for a refusal.
	want := []store.OperationStatus{store.OpPending, store.OpPending, store.OpPending, store.OpPending,
		store.OpApproved, store.OpRejected, store.OpCanceled, store.OpExpired}
	heard.mu.Lock()
	defer heard.mu.Unlock()
	if !slices.Equal(heard.got, want) {
		t.Fatalf("observers heard %v, want %v", heard.got, want)
	}
}

// failingAppends refuses audit appends while fail is set, as a database that went away would.
type failingAppends struct {
	store.Store
	fail atomic.Bool
}

func (f *failingAppends) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if f.fail.Load() {
		return fmt.Errorf("append audit: %w", store.ErrUnavailable)
	}
	return f.Store.AppendAudit(ctx, e)
}

// UpdateOperationWith, while fail is set, writes nothing when the transaction would append an audit record:
// fn's refusal is the answer, as in the store's transaction; a change fn accepts fails at the audit insert.
func (f *failingAppends) UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (store.Operation, error) {
	if f.fail.Load() && also.Audit != nil {
		now, err := f.GetOperation(ctx, cur.ID)
		if err != nil {
			return cur, err
		}
		if err := fn(&now); err != nil {
			return now, err
		}
		return cur, fmt.Errorf("update operation: append audit: %w", store.ErrUnavailable)
	}
	return f.Store.UpdateOperationWith(ctx, cur, also, fn)
}

// TestCancelWithoutItsAudit: a cancellation whose audit record cannot be written does not happen (503; the
// operation stays PENDING, observers hear nothing) and the bank's retry makes it, while a refused
// cancellation keeps its own answer (409) whatever happened to its audit record.
func TestCancelWithoutItsAudit(t *testing.T) {
	clk := newClock()
	st := &failingAppends{Store: sqltest.OpenSQLite(t)}
	svc := configuredService(t, clk, st, txsign.Config{})
	heard := &recorder{}
	svc.Observe(heard)
	u := newUser(t, clk, st)
	ctx := context.Background()
	op, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	done, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	if _, err := svc.Cancel(ctx, "bank", done.ID); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	if _, err := svc.Cancel(ctx, "bank", op.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Cancel without its audit = %v, want the store's unavailability", err)
	}
	if _, err := svc.Cancel(ctx, "bank", done.ID); !errors.Is(err, fault.ErrConflict) || errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Cancel of a CANCELED operation without its audit = %v, want 409", err)
	}
	if now, _ := st.GetOperation(ctx, op.ID); now.Status != store.OpPending {
		t.Fatalf("a cancellation that could not be audited left the operation %s, want PENDING", now.Status)
	}
	st.fail.Store(false)
	if got, err := svc.Cancel(ctx, "bank", op.ID); err != nil || got.Status != store.OpCanceled {
		t.Fatalf("the retry of a cancellation that could not be audited = %s, %v; want CANCELED", got.Status, err)
	}
	if ev := lastAudit(t, st, op.ID); ev.Type != "operation.cancel" || ev.Outcome != audit.Success {
		t.Fatalf("the retried cancellation audited as %s %s", ev.Type, ev.Outcome)
	}
	heard.mu.Lock()
	defer heard.mu.Unlock()
	if want := []store.OperationStatus{store.OpPending, store.OpPending, store.OpCanceled, store.OpCanceled}; !slices.Equal(heard.got, want) {
		t.Fatalf("observers heard %v, want %v", heard.got, want)
	}
}

// TestRecent: a mobile app's history is the user's own operations, the latest first, at most limit of
// them, with expiry applied on the way.
func TestRecent(t *testing.T) {
	clk := newClock()
	svc, st, uid := newService(t, clk)
	ctx := context.Background()
	other := newUser(t, clk, st)
	var mine []string // oldest first
	for _, lives := range []time.Duration{30 * time.Second, time.Hour, time.Hour} {
		in := payment(uid)
		in.ExpiresIn = lives
		op, _, err := svc.Create(ctx, "bank", in)
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, op.ID)
		if _, _, err := svc.Create(ctx, "bank", payment(other.ID)); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Second)
	}
	clk.advance(30 * time.Second) // the first is due

	ids := func(ops []store.Operation) []string {
		var s []string
		for _, op := range ops {
			s = append(s, op.ID)
		}
		return s
	}
	latest, err := svc.Recent(ctx, uid, 2)
	if want := []string{mine[2], mine[1]}; err != nil || !slices.Equal(ids(latest), want) {
		t.Fatalf("Recent(2) = %v, %v; want %v", ids(latest), err, want)
	}
	all, err := svc.Recent(ctx, uid, 10)
	if want := []string{mine[2], mine[1], mine[0]}; err != nil || !slices.Equal(ids(all), want) {
		t.Fatalf("Recent(10) = %v, %v; want %v", ids(all), err, want)
	}
	if all[2].Status != store.OpExpired || all[0].Status != store.OpPending {
		t.Fatalf("Recent shows %s and %s, want the due operation EXPIRED and the others PENDING", all[2].Status, all[0].Status)
	}
	_, err = svc.Recent(ctx, "", 10)
	var ie *fault.InvalidError
	if !errors.As(err, &ie) || !slices.Equal(ie.Problems, []fault.FieldProblem{{Field: "user_id", Reason: "is required and must be a valid identifier"}}) {
		t.Fatalf("Recent without a user = %v", err)
	}
}

// TestList: the bank lists one user's operations, oldest first, all or of one status, with expiry applied on
// the way; a status that is not one of the six is refused, as is a missing user.
func TestList(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc, u, cred := approvalFixture(t, clk, st)
	other := newUser(t, clk, st)
	ctx := context.Background()
	var mine []store.Operation
	for _, lives := range []time.Duration{30 * time.Second, time.Hour, time.Hour} {
		in := payment(u.ID)
		in.ExpiresIn = lives
		op, _, err := svc.Create(ctx, "bank", in)
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, op)
		_, _, _ = svc.Create(ctx, "bank", payment(other.ID))
		clk.advance(time.Second)
	}
	decide(t, svc, mine[2], cred, txsign.Approve)
	clk.advance(30 * time.Second) // the first is due

	ids := func(ops []store.Operation) []string {
		var s []string
		for _, op := range ops {
			s = append(s, op.ID+" "+string(op.Status))
		}
		return s
	}
	for _, tc := range []struct {
		status string
		want   []store.Operation
		states []store.OperationStatus
	}{
		{"", mine, []store.OperationStatus{store.OpExpired, store.OpPending, store.OpApproved}},
		{"PENDING", mine[1:2], []store.OperationStatus{store.OpPending}},
		{"EXPIRED", mine[:1], []store.OperationStatus{store.OpExpired}},
		{"APPROVED", mine[2:], []store.OperationStatus{store.OpApproved}},
		{"CANCELED", nil, nil},
	} {
		var want []string
		for i, op := range tc.want {
			want = append(want, op.ID+" "+string(tc.states[i]))
		}
		got, err := svc.List(ctx, u.ID, tc.status)
		if err != nil || !slices.Equal(ids(got), want) {
			t.Errorf("List(%q) = %v, %v; want %v", tc.status, ids(got), err, want)
		}
	}
	for _, tc := range []struct {
		user, status string
		want         []fault.FieldProblem
	}{
		{u.ID, "pending", []fault.FieldProblem{{Field: "status", Reason: "must be one of PENDING, APPROVED, REJECTED, CANCELED, EXPIRED, FAILED"}}},
		{u.ID, "DONE", []fault.FieldProblem{{Field: "status", Reason: "must be one of PENDING, APPROVED, REJECTED, CANCELED, EXPIRED, FAILED"}}},
		{"", "", []fault.FieldProblem{{Field: "user_id", Reason: "is required and must be a valid identifier"}}},
	} {
		_, err := svc.List(ctx, tc.user, tc.status)
		var ie *fault.InvalidError
		if !errors.As(err, &ie) || !slices.Equal(ie.Problems, tc.want) {
			t.Errorf("List(%q, %q) = %v, want %v", tc.user, tc.status, err, tc.want)
		}
	}
}

// TestTokenIfValid: an approved operation hands out its token until the token expires (exclusive), and an
// operation that was not approved hands out none.
func TestTokenIfValid(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc := configuredService(t, clk, st, txsign.Config{TokenTTL: time.Minute})
	u := newUser(t, clk, st)
	cred, _ := deviceKey(t, st, u.ID)
	ctx := context.Background()
	op, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	refused, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	pending, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	res := decide(t, svc, op, cred, txsign.Approve)
	decide(t, svc, refused, cred, txsign.Reject)

	stored, _ := st.GetOperation(ctx, op.ID)
	if tok, exp := svc.TokenIfValid(stored); tok != res.Token || tok == "" || exp == nil || !exp.Equal(clk.now().Add(time.Minute)) {
		t.Fatalf("TokenIfValid(approved) = %q, %v; want the minted token until %s", tok, exp, clk.now().Add(time.Minute))
	}
	clk.advance(time.Minute - time.Second)
	if tok, _ := svc.TokenIfValid(stored); tok != res.Token {
		t.Fatal("the token was withheld before it expired")
	}
	clk.advance(time.Second)
	if tok, exp := svc.TokenIfValid(stored); tok != "" || exp != nil {
		t.Fatalf("TokenIfValid at the token's expiry = %q, %v; want none", tok, exp)
	}
	for _, id := range []string{refused.ID, pending.ID} {
		o, _ := st.GetOperation(ctx, id)
		if tok, exp := svc.TokenIfValid(o); tok != "" || exp != nil {
			t.Fatalf("TokenIfValid(%s) = %q, %v; want none", o.Status, tok, exp)
		}
	}
	// Only the status releases a token: a record that is not APPROVED hands out none, whatever it holds.
	later := clk.now().Add(time.Hour)
	if tok, _ := svc.TokenIfValid(store.Operation{Status: store.OpCanceled, Token: res.Token, TokenExpiresAt: &later}); tok != "" {
		t.Fatal("a CANCELED record handed out the token it holds")
	}
}

// TestApprovalURL: the browser approval link carries the operation's capability in the fragment only
// (RFC 3986 §3.5: never sent to the server, so it reaches no access log or Referer), and the capability
// is the operation's own.
func TestApprovalURL(t *testing.T) {
	clk := newClock()
	st := sqltest.OpenSQLite(t)
	svc := configuredService(t, clk, st, txsign.Config{PublicURL: "https://signet.bank.example"})
	u := newUser(t, clk, st)
	ctx := context.Background()
	op, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	other, _, _ := svc.Create(ctx, "bank", payment(u.ID))
	raw := svc.ApprovalURL(op)
	link, err := url.Parse(raw)
	if err != nil || link.Scheme != "https" || link.Host != "signet.bank.example" || link.Path != "/web/approve/"+op.ID ||
		link.RawQuery != "" || !strings.HasPrefix(link.Fragment, "c=") {
		t.Fatalf("approval URL %q", raw)
	}
	capability := strings.TrimPrefix(link.Fragment, "c=")
	if err := svc.CheckCapability(op.ID, capability); err != nil {
		t.Fatalf("the link's capability does not open its operation: %v", err)
	}
	if err := svc.CheckCapability(other.ID, capability); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the link's capability opens another operation: %v", err)
	}
}
