package storetest

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/signet-sca/signet/store"
)

// Outage wraps a store.Store and fails every call from an armed point on with
// store.ErrUnavailable, as a database that goes down in the middle of a request
// does. Set Store to the store it wraps (it starts healthy). Tests drive a request with the outage armed at its first, second, ...
// store call to prove that an outage anywhere below a handler answers 503.
// Close is never failed. Methods added to store.Store later pass through
// unfailed until they are listed here.
type Outage struct {
	store.Store
	calls  atomic.Int64
	failAt atomic.Int64 // 0: healthy
	only   atomic.Bool  // fail the armed call alone (a blip), not every later one too
	struck atomic.Pointer[string]
}

var _ store.Store = (*Outage)(nil)

// FailFrom resets the call count and arms the outage: the nth call from now
// (1 for the next one) and every later call fail.
func (w *Outage) FailFrom(n int64) {
	w.struck.Store(nil)
	w.calls.Store(0)
	w.only.Store(false)
	w.failAt.Store(n)
}

// FailOnly resets the call count and arms a blip: the nth call from now fails,
// the calls before and after it do not.
func (w *Outage) FailOnly(n int64) {
	w.FailFrom(n)
	w.only.Store(true)
}

// Heal ends the outage and resets the call count.
func (w *Outage) Heal() { w.FailFrom(0) }

// Calls is the number of store calls since the last FailFrom or Heal.
func (w *Outage) Calls() int64 { return w.calls.Load() }

func (w *Outage) hit(method string) error {
	n := w.calls.Add(1)
	if at := w.failAt.Load(); at > 0 && (n == at || n > at && !w.only.Load()) {
		if n == at {
			w.struck.Store(&method)
		}
		return store.ErrUnavailable
	}
	return nil
}

// Struck names the store method the outage struck first since the last
// FailFrom ("" when none), for failure messages.
func (w *Outage) Struck() string {
	if m := w.struck.Load(); m != nil {
		return *m
	}
	return ""
}

func (w *Outage) CreateUser(ctx context.Context, u *store.User) (err error) {
	if err = w.hit("CreateUser"); err != nil {
		return
	}
	return w.Store.CreateUser(ctx, u)
}

func (w *Outage) GetUser(ctx context.Context, id string) (_ store.User, err error) {
	if err = w.hit("GetUser"); err != nil {
		return
	}
	return w.Store.GetUser(ctx, id)
}

func (w *Outage) GetUserByExternalID(ctx context.Context, externalID string) (_ store.User, err error) {
	if err = w.hit("GetUserByExternalID"); err != nil {
		return
	}
	return w.Store.GetUserByExternalID(ctx, externalID)
}

func (w *Outage) UpdateUser(ctx context.Context, id string, fn func(*store.User) error) (_ store.User, err error) {
	if err = w.hit("UpdateUser"); err != nil {
		return
	}
	return w.Store.UpdateUser(ctx, id, fn)
}

func (w *Outage) CreateCredential(ctx context.Context, c *store.Credential) (err error) {
	if err = w.hit("CreateCredential"); err != nil {
		return
	}
	return w.Store.CreateCredential(ctx, c)
}

func (w *Outage) GetCredential(ctx context.Context, id string) (_ store.Credential, err error) {
	if err = w.hit("GetCredential"); err != nil {
		return
	}
	return w.Store.GetCredential(ctx, id)
}

func (w *Outage) GetCredentialByLookupKey(ctx context.Context, kind store.CredentialKind, key string) (_ store.Credential, err error) {
	if err = w.hit("GetCredentialByLookupKey"); err != nil {
		return
	}
	return w.Store.GetCredentialByLookupKey(ctx, kind, key)
}

func (w *Outage) ListCredentials(ctx context.Context, f store.CredentialFilter) (_ []store.Credential, err error) {
	if err = w.hit("ListCredentials"); err != nil {
		return
	}
	return w.Store.ListCredentials(ctx, f)
}

func (w *Outage) UpdateCredential(ctx context.Context, id string, fn func(*store.Credential) error) (_ store.Credential, err error) {
	if err = w.hit("UpdateCredential"); err != nil {
		return
	}
	return w.Store.UpdateCredential(ctx, id, fn)
}

func (w *Outage) UpdateCredentialFrom(ctx context.Context, cur store.Credential, fn func(*store.Credential) error) (_ store.Credential, err error) {
	if err = w.hit("UpdateCredentialFrom"); err != nil {
		return
	}
	return w.Store.UpdateCredentialFrom(ctx, cur, fn)
}

func (w *Outage) CreateOperation(ctx context.Context, o *store.Operation) (err error) {
	if err = w.hit("CreateOperation"); err != nil {
		return
	}
	return w.Store.CreateOperation(ctx, o)
}

func (w *Outage) CreateOperationWith(ctx context.Context, o *store.Operation, also store.Alongside) (err error) {
	if err = w.hit("CreateOperationWith"); err != nil {
		return
	}
	return w.Store.CreateOperationWith(ctx, o, also)
}

func (w *Outage) GetOperation(ctx context.Context, id string) (_ store.Operation, err error) {
	if err = w.hit("GetOperation"); err != nil {
		return
	}
	return w.Store.GetOperation(ctx, id)
}

func (w *Outage) GetOperationWithCredential(ctx context.Context, opID, credID string) (_ store.Operation, _ store.Credential, err error) {
	if err = w.hit("GetOperationWithCredential"); err != nil {
		return
	}
	return w.Store.GetOperationWithCredential(ctx, opID, credID)
}

func (w *Outage) ReadApproval(ctx context.Context, opID string, reserve *store.PasscodeReservation) (_ store.Approval, err error) {
	if err = w.hit("ReadApproval"); err != nil {
		return
	}
	return w.Store.ReadApproval(ctx, opID, reserve)
}

func (w *Outage) GetOperationByIdempotencyKey(ctx context.Context, key string) (_ store.Operation, err error) {
	if err = w.hit("GetOperationByIdempotencyKey"); err != nil {
		return
	}
	return w.Store.GetOperationByIdempotencyKey(ctx, key)
}

func (w *Outage) ListOperations(ctx context.Context, f store.OperationFilter) (_ []store.Operation, err error) {
	if err = w.hit("ListOperations"); err != nil {
		return
	}
	return w.Store.ListOperations(ctx, f)
}

func (w *Outage) UpdateOperation(ctx context.Context, id string, fn func(*store.Operation) error) (_ store.Operation, err error) {
	if err = w.hit("UpdateOperation"); err != nil {
		return
	}
	return w.Store.UpdateOperation(ctx, id, fn)
}

func (w *Outage) UpdateOperationFrom(ctx context.Context, cur store.Operation, fn func(*store.Operation) error) (_ store.Operation, err error) {
	if err = w.hit("UpdateOperationFrom"); err != nil {
		return
	}
	return w.Store.UpdateOperationFrom(ctx, cur, fn)
}

func (w *Outage) UpdateOperationWith(ctx context.Context, cur store.Operation, also store.Alongside, fn func(*store.Operation) error) (_ store.Operation, err error) {
	if err = w.hit("UpdateOperationWith"); err != nil {
		return
	}
	return w.Store.UpdateOperationWith(ctx, cur, also, fn)
}

func (w *Outage) AppendAudit(ctx context.Context, e *store.AuditEvent) (err error) {
	if err = w.hit("AppendAudit"); err != nil {
		return
	}
	return w.Store.AppendAudit(ctx, e)
}

func (w *Outage) ListAudit(ctx context.Context, f store.AuditFilter) (_ []store.AuditEvent, _ string, err error) {
	if err = w.hit("ListAudit"); err != nil {
		return
	}
	return w.Store.ListAudit(ctx, f)
}

func (w *Outage) CreateSigningKey(ctx context.Context, k *store.SigningKey) (err error) {
	if err = w.hit("CreateSigningKey"); err != nil {
		return
	}
	return w.Store.CreateSigningKey(ctx, k)
}

func (w *Outage) ListSigningKeys(ctx context.Context) (_ []store.SigningKey, err error) {
	if err = w.hit("ListSigningKeys"); err != nil {
		return
	}
	return w.Store.ListSigningKeys(ctx)
}

func (w *Outage) UpdateSigningKey(ctx context.Context, id string, fn func(*store.SigningKey) error) (_ store.SigningKey, err error) {
	if err = w.hit("UpdateSigningKey"); err != nil {
		return
	}
	return w.Store.UpdateSigningKey(ctx, id, fn)
}

func (w *Outage) CreateCeremony(ctx context.Context, c *store.Ceremony) (err error) {
	if err = w.hit("CreateCeremony"); err != nil {
		return
	}
	return w.Store.CreateCeremony(ctx, c)
}

func (w *Outage) GetCeremony(ctx context.Context, id string) (_ store.Ceremony, err error) {
	if err = w.hit("GetCeremony"); err != nil {
		return
	}
	return w.Store.GetCeremony(ctx, id)
}

func (w *Outage) GetCeremonyByLookupKey(ctx context.Context, kind, key string) (_ store.Ceremony, err error) {
	if err = w.hit("GetCeremonyByLookupKey"); err != nil {
		return
	}
	return w.Store.GetCeremonyByLookupKey(ctx, kind, key)
}

func (w *Outage) UpdateCeremony(ctx context.Context, id string, fn func(*store.Ceremony) error) (_ store.Ceremony, err error) {
	if err = w.hit("UpdateCeremony"); err != nil {
		return
	}
	return w.Store.UpdateCeremony(ctx, id, fn)
}

func (w *Outage) ConsumeCeremony(ctx context.Context, id string, now time.Time) (_ store.Ceremony, err error) {
	if err = w.hit("ConsumeCeremony"); err != nil {
		return
	}
	return w.Store.ConsumeCeremony(ctx, id, now)
}

func (w *Outage) DeleteExpiredCeremonies(ctx context.Context, before time.Time) (_ int64, err error) {
	if err = w.hit("DeleteExpiredCeremonies"); err != nil {
		return
	}
	return w.Store.DeleteExpiredCeremonies(ctx, before)
}

func (w *Outage) CreateApplication(ctx context.Context, a *store.Application) (err error) {
	if err = w.hit("CreateApplication"); err != nil {
		return
	}
	return w.Store.CreateApplication(ctx, a)
}

func (w *Outage) GetApplication(ctx context.Context, id string) (_ store.Application, err error) {
	if err = w.hit("GetApplication"); err != nil {
		return
	}
	return w.Store.GetApplication(ctx, id)
}

func (w *Outage) GetApplicationByKey(ctx context.Context, appKey string) (_ store.Application, err error) {
	if err = w.hit("GetApplicationByKey"); err != nil {
		return
	}
	return w.Store.GetApplicationByKey(ctx, appKey)
}

func (w *Outage) GetCredentialWithApplication(ctx context.Context, credID, appKey string) (_ store.Credential, _ store.Application, err error) {
	if err = w.hit("GetCredentialWithApplication"); err != nil {
		return
	}
	return w.Store.GetCredentialWithApplication(ctx, credID, appKey)
}

func (w *Outage) ListApplications(ctx context.Context) (_ []store.Application, err error) {
	if err = w.hit("ListApplications"); err != nil {
		return
	}
	return w.Store.ListApplications(ctx)
}

func (w *Outage) EnqueueOutbox(ctx context.Context, e *store.OutboxEvent) (err error) {
	if err = w.hit("EnqueueOutbox"); err != nil {
		return
	}
	return w.Store.EnqueueOutbox(ctx, e)
}

func (w *Outage) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []store.OutboxEvent, err error) {
	if err = w.hit("ClaimOutbox"); err != nil {
		return
	}
	return w.Store.ClaimOutbox(ctx, now, lease, limit)
}

func (w *Outage) UpdateOutbox(ctx context.Context, id string, fn func(*store.OutboxEvent) error) (_ store.OutboxEvent, err error) {
	if err = w.hit("UpdateOutbox"); err != nil {
		return
	}
	return w.Store.UpdateOutbox(ctx, id, fn)
}

func (w *Outage) PruneOutbox(ctx context.Context, before, parkedAfter time.Time, limit int) (_ int64, err error) {
	if err = w.hit("PruneOutbox"); err != nil {
		return
	}
	return w.Store.PruneOutbox(ctx, before, parkedAfter, limit)
}

func (w *Outage) Ping(ctx context.Context) (err error) {
	if err = w.hit("Ping"); err != nil {
		return
	}
	return w.Store.Ping(ctx)
}
