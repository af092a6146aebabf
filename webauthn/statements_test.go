package webauthn_test

import (
	"context"
	"sync"
	"testing"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/webauthn"
)

// countingStore counts the store calls the service makes on the approval path.
type countingStore struct {
	store.Store
	mu sync.Mutex
	n  map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	c.n[name]++
	c.mu.Unlock()
}

func (c *countingStore) GetUser(ctx context.Context, id string) (store.User, error) {
	c.count("GetUser")
	return c.Store.GetUser(ctx, id)
}

func (c *countingStore) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (store.User, error) {
	c.count("UpdateUser")
	return c.Store.UpdateUser(ctx, id, fn)
}

func (c *countingStore) UpdateUserFrom(ctx context.Context, cur store.User, fn func(*store.User) error) (store.User, error) {
	c.count("UpdateUserFrom")
	return c.Store.UpdateUserFrom(ctx, cur, fn)
}

func (c *countingStore) GetCredentialByLookupKey(ctx context.Context, k store.CredentialKind, key string) (store.Credential, error) {
	c.count("GetCredentialByLookupKey")
	return c.Store.GetCredentialByLookupKey(ctx, k, key)
}

func (c *countingStore) ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error) {
	c.count("ListCredentials")
	return c.Store.ListCredentials(ctx, f)
}

func (c *countingStore) UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (store.Credential, error) {
	c.count("UpdateCredential")
	return c.Store.UpdateCredential(ctx, id, fn)
}

func (c *countingStore) UpdateCredentialFrom(ctx context.Context, cur store.Credential, fn func(*store.Credential) error) (store.Credential, error) {
	c.count("UpdateCredentialFrom")
	return c.Store.UpdateCredentialFrom(ctx, cur, fn)
}

// A successful passkey approval asks the store for one user read, one read of
// the user's passkeys and two compare-and-swaps of the passcode try started
// from that read; the passkey is not looked up again by id, and after the
// decision the credential is offered a change from the copy already read,
// which writes nothing: its counter went with the approval's own statement
// (version bumped once). Issue 17: 13 statements in finish before, 8 after.
func TestApprovalStoreCalls(t *testing.T) {
	e := newEnv(t, nil)
	u, d := e.enrolled("calls")
	cs := &countingStore{Store: e.st, n: map[string]int{}}
	svc, err := webauthn.New(cs, e.ops, e.audit, e.ring, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	op := e.payment(u.ID, "10.00")
	begin, err := svc.BeginApproval(e.ctx, op.ID, txsign.Approve)
	if err != nil {
		t.Fatal(err)
	}
	in := webauthn.ApprovalResult{CeremonyID: begin.CeremonyID, Credential: d.assert(t, begin.PublicKey),
		Passcode: seal(t, begin.HPKE, webauthn.FieldPasscode, testPasscode)}
	before := e.passkey(u.ID)
	cs.n = map[string]int{}
	if _, err := svc.FinishApproval(e.ctx, op.ID, in); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GetUser": 1, "ListCredentials": 1, "UpdateUserFrom": 2, "UpdateCredentialFrom": 1}
	for k, v := range cs.n {
		if want[k] != v {
			t.Errorf("%s called %d times, want %d", k, v, want[k])
		}
	}
	for k, v := range want {
		if cs.n[k] != v {
			t.Errorf("%s called %d times, want %d", k, cs.n[k], v)
		}
	}
	if c := e.passkey(u.ID); c.Counter != int64(d.cred.Counter) || c.Version != before.Version+1 {
		t.Fatalf("stored counter %d (asserted %d), version %d (before %d, want one write)", c.Counter, d.cred.Counter, c.Version, before.Version)
	}
}
