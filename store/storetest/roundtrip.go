package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

// filled returns a T whose every exported field holds a value of its own,
// different from every other field's and from the same field's under another
// seed: text "<Field>-<seed>", numbers seed*1000 + the field's index + 1, bytes
// the text's bytes, times a second and a microsecond apart after base (UTC, to
// the µs: the stored form), booleans true for an odd seed. A field added to a
// record later is filled without touching this function, unless its type is
// new, which fails the test until filled learns it.
func filled[T any](t *testing.T, seed int) T {
	t.Helper()
	var rec T
	v := reflect.ValueOf(&rec).Elem()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		if !sf.IsExported() {
			continue
		}
		n := seed*1000 + i + 1
		at := base.Add(time.Duration(seed)*24*time.Hour + time.Duration(n)*(time.Second+time.Microsecond))
		text := fmt.Sprintf("%s-%d", sf.Name, seed)
		switch {
		case f.Type() == timeType:
			f.Set(reflect.ValueOf(at))
		case f.Type() == reflect.TypeFor[*time.Time]():
			f.Set(reflect.ValueOf(&at))
		case f.Type() == reflect.TypeFor[[]byte]():
			f.SetBytes([]byte(text))
		case f.Kind() == reflect.String:
			f.SetString(text)
		case f.Kind() == reflect.Int, f.Kind() == reflect.Int64:
			f.SetInt(int64(n))
		case f.Kind() == reflect.Bool:
			f.SetBool(seed%2 == 1)
		default:
			t.Fatalf("%T.%s: filled has no value for type %s", rec, sf.Name, f.Type())
		}
	}
	return rec
}

// testRoundTrip: every record the store keeps, with every exported field set
// (filled), comes back field by field from every read path that returns it,
// after its insert and after a compare-and-swap that changes every field. A
// field a backend forgets to convert, store or read fails here with its name,
// including a field added to a record after this test was written.
func testRoundTrip(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ctx := ctxT(t)
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(readError); ok {
				t.Fatalf("read: %v", err.error)
			}
			panic(r)
		}
	}()

	// assigned is what the store sets in a swapped record, whatever fn did.
	type assigned struct {
		id      string
		created time.Time
		version int64
	}
	replaced := func(rec any, a assigned) {
		v := reflect.ValueOf(rec).Elem()
		v.FieldByName("ID").SetString(a.id)
		v.FieldByName("CreatedAt").Set(reflect.ValueOf(a.created))
		v.FieldByName("Version").SetInt(a.version)
	}

	// Users.
	u := filled[store.User](t, 1)
	want := u
	noErr(t, "CreateUser", s.CreateUser(ctx, &u))
	want.Version = 1
	sameRecord(t, "CreateUser", u, want)
	got, err := s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	sameRecord(t, "GetUser", got, want)
	got, err = s.GetUserByExternalID(ctx, u.ExternalID)
	noErr(t, "GetUserByExternalID", err)
	sameRecord(t, "GetUserByExternalID", got, want)
	wantU := filled[store.User](t, 2)
	replaced(&wantU, assigned{u.ID, u.CreatedAt, 2})
	got, err = s.UpdateUser(ctx, u.ID, func(x *store.User) error { *x = filled[store.User](t, 2); return nil })
	noErr(t, "UpdateUser", err)
	sameRecord(t, "UpdateUser", got, wantU)
	got, err = s.GetUser(ctx, u.ID)
	noErr(t, "GetUser after UpdateUser", err)
	sameRecord(t, "GetUser after UpdateUser", got, wantU)

	// Credentials.
	credential := func(seed int) store.Credential {
		c := filled[store.Credential](t, seed)
		c.UserID = u.ID // a foreign key
		return c
	}
	c := credential(1)
	wantC := c
	noErr(t, "CreateCredential", s.CreateCredential(ctx, &c))
	wantC.Version = 1
	credentialReads := func(when string, want store.Credential) {
		t.Helper()
		sameRecord(t, "GetCredential"+when, must(s.GetCredential(ctx, want.ID)), want)
		sameRecord(t, "GetCredentialByLookupKey"+when, must(s.GetCredentialByLookupKey(ctx, want.Kind, want.LookupKey)), want)
		list := must(s.ListCredentials(ctx, store.CredentialFilter{UserID: u.ID, Kind: want.Kind}))
		if len(list) != 1 {
			t.Fatalf("ListCredentials%s: %d credentials", when, len(list))
		}
		sameRecord(t, "ListCredentials"+when, list[0], want)
	}
	sameRecord(t, "CreateCredential", c, wantC)
	credentialReads("", wantC)
	wantC = credential(2)
	replaced(&wantC, assigned{c.ID, c.CreatedAt, 2})
	c, err = s.UpdateCredential(ctx, c.ID, func(x *store.Credential) error { *x = credential(2); return nil })
	noErr(t, "UpdateCredential", err)
	sameRecord(t, "UpdateCredential", c, wantC)
	credentialReads(" after UpdateCredential", wantC)

	// Operations: the insert and the swap (one statement each on
	// PostgreSQL), alone and with the credential use and the audit event.
	operation := func(seed int) store.Operation {
		o := filled[store.Operation](t, seed)
		o.UserID = u.ID
		return o
	}
	operationReads := func(when string, want store.Operation) {
		t.Helper()
		sameRecord(t, "GetOperation"+when, must(s.GetOperation(ctx, want.ID)), want)
		sameRecord(t, "GetOperationByIdempotencyKey"+when, must(s.GetOperationByIdempotencyKey(ctx, want.IdempotencyKey)), want)
		o, oc, err := s.GetOperationWithCredential(ctx, want.ID, c.ID)
		noErr(t, "GetOperationWithCredential"+when, err)
		sameRecord(t, "GetOperationWithCredential"+when+" (operation)", o, want)
		sameRecord(t, "GetOperationWithCredential"+when+" (credential)", oc, must(s.GetCredential(ctx, c.ID)))
		for _, o := range must(s.ListOperations(ctx, store.OperationFilter{UserID: u.ID, Status: want.Status})) {
			if o.ID == want.ID {
				sameRecord(t, "ListOperations"+when, o, want)
				return
			}
		}
		t.Fatalf("ListOperations%s: operation %s not listed", when, want.ID)
	}
	o := operation(1)
	wantO := o
	noErr(t, "CreateOperation", s.CreateOperation(ctx, &o))
	wantO.Version = 1
	sameRecord(t, "CreateOperation", o, wantO)
	operationReads("", wantO)
	wantO = operation(2)
	replaced(&wantO, assigned{o.ID, o.CreatedAt, 2})
	o, err = s.UpdateOperation(ctx, o.ID, func(x *store.Operation) error { *x = operation(2); return nil })
	noErr(t, "UpdateOperation", err)
	sameRecord(t, "UpdateOperation", o, wantO)
	operationReads(" after UpdateOperation", wantO)

	ev := filled[store.AuditEvent](t, 3)
	wantO = operation(3)
	replaced(&wantO, assigned{o.ID, o.CreatedAt, 3})
	o, err = s.UpdateOperationWith(ctx, o, store.Alongside{CredentialUse: store.CredentialUse{ID: c.ID, At: base}, Audit: &ev},
		func(x *store.Operation) error { *x = operation(3); return nil })
	noErr(t, "UpdateOperationWith", err)
	sameRecord(t, "UpdateOperationWith", o, wantO)
	operationReads(" after UpdateOperationWith", wantO)
	auditReads := func(what string, e store.AuditEvent) {
		t.Helper()
		list, _, err := s.ListAudit(ctx, store.AuditFilter{OperationID: e.OperationID})
		noErr(t, "ListAudit", err)
		if len(list) != 1 {
			t.Fatalf("ListAudit of %s: %d events", what, len(list))
		}
		sameRecord(t, "ListAudit of "+what, list[0], e)
	}
	wantE := filled[store.AuditEvent](t, 3)
	wantE.Seq = ev.Seq
	sameRecord(t, "UpdateOperationWith's audit event", ev, wantE)
	auditReads("UpdateOperationWith's audit event", wantE)

	o2, ev2 := operation(4), filled[store.AuditEvent](t, 4)
	wantO, wantE = o2, ev2
	noErr(t, "CreateOperationWith", s.CreateOperationWith(ctx, &o2, store.Alongside{Audit: &ev2}))
	wantO.Version, wantE.Seq = 1, ev2.Seq
	sameRecord(t, "CreateOperationWith", o2, wantO)
	operationReads(" after CreateOperationWith", wantO)
	sameRecord(t, "CreateOperationWith's audit event", ev2, wantE)
	auditReads("CreateOperationWith's audit event", wantE)

	// Audit events.
	e := filled[store.AuditEvent](t, 5)
	wantE = e
	noErr(t, "AppendAudit", s.AppendAudit(ctx, &e))
	if e.Seq <= ev2.Seq {
		t.Fatalf("AppendAudit: Seq %d after %d", e.Seq, ev2.Seq)
	}
	wantE.Seq = e.Seq
	sameRecord(t, "AppendAudit", e, wantE)
	auditReads("AppendAudit's event", wantE)

	// Signing keys.
	k := filled[store.SigningKey](t, 1)
	wantK := k
	noErr(t, "CreateSigningKey", s.CreateSigningKey(ctx, &k))
	wantK.Version = 1
	sameRecord(t, "CreateSigningKey", k, wantK)
	keys := must(s.ListSigningKeys(ctx))
	if len(keys) != 1 {
		t.Fatalf("ListSigningKeys: %d keys", len(keys))
	}
	sameRecord(t, "ListSigningKeys", keys[0], wantK)
	wantK = filled[store.SigningKey](t, 2)
	replaced(&wantK, assigned{k.ID, k.CreatedAt, 2})
	k, err = s.UpdateSigningKey(ctx, k.ID, func(x *store.SigningKey) error { *x = filled[store.SigningKey](t, 2); return nil })
	noErr(t, "UpdateSigningKey", err)
	sameRecord(t, "UpdateSigningKey", k, wantK)
	sameRecord(t, "ListSigningKeys after UpdateSigningKey", must(s.ListSigningKeys(ctx))[0], wantK)

	// Ceremonies: the last swap leaves it unconsumed for ConsumeCeremony.
	cer := filled[store.Ceremony](t, 1)
	wantCer := cer
	noErr(t, "CreateCeremony", s.CreateCeremony(ctx, &cer))
	wantCer.Version = 1
	ceremonyReads := func(when string, want store.Ceremony) {
		t.Helper()
		sameRecord(t, "GetCeremony"+when, must(s.GetCeremony(ctx, want.ID)), want)
		sameRecord(t, "GetCeremonyByLookupKey"+when, must(s.GetCeremonyByLookupKey(ctx, want.Kind, want.LookupKey)), want)
	}
	sameRecord(t, "CreateCeremony", cer, wantCer)
	ceremonyReads("", wantCer)
	unconsumed := func() store.Ceremony { x := filled[store.Ceremony](t, 2); x.ConsumedAt = nil; return x }
	wantCer = unconsumed()
	replaced(&wantCer, assigned{cer.ID, cer.CreatedAt, 2})
	cer, err = s.UpdateCeremony(ctx, cer.ID, func(x *store.Ceremony) error { *x = unconsumed(); return nil })
	noErr(t, "UpdateCeremony", err)
	sameRecord(t, "UpdateCeremony", cer, wantCer)
	ceremonyReads(" after UpdateCeremony", wantCer)
	wantCer.ConsumedAt, wantCer.Version = &base, 3
	sameRecord(t, "ConsumeCeremony", must(s.ConsumeCeremony(ctx, cer.ID, base)), wantCer)
	ceremonyReads(" after ConsumeCeremony", wantCer)

	// Webhook outbox: claimed (due, undelivered), then swapped; a swap that
	// changes nothing returns the record as read.
	ob := filled[store.OutboxEvent](t, 1)
	ob.DeliveredAt = nil
	wantOb := ob
	noErr(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, &ob))
	wantOb.Version = 1
	sameRecord(t, "EnqueueOutbox", ob, wantOb)
	claimAt := ob.NextAttemptAt.Add(time.Second)
	claimed := must(s.ClaimOutbox(ctx, claimAt, time.Minute, 10))
	if len(claimed) != 1 {
		t.Fatalf("ClaimOutbox: %d events", len(claimed))
	}
	wantOb.NextAttemptAt, wantOb.Version = claimAt.Add(time.Minute), 2
	sameRecord(t, "ClaimOutbox", claimed[0], wantOb)
	wantOb = filled[store.OutboxEvent](t, 2)
	replaced(&wantOb, assigned{ob.ID, ob.CreatedAt, 3})
	ob, err = s.UpdateOutbox(ctx, ob.ID, func(x *store.OutboxEvent) error { *x = filled[store.OutboxEvent](t, 2); return nil })
	noErr(t, "UpdateOutbox", err)
	sameRecord(t, "UpdateOutbox", ob, wantOb)
	wantOb.Version = 4
	sameRecord(t, "UpdateOutbox's read", must(s.UpdateOutbox(ctx, ob.ID, func(*store.OutboxEvent) error { return nil })), wantOb)

	// PowerAuth applications and recovery codes.
	a := filled[store.Application](t, 1)
	wantA := a
	noErr(t, "CreateApplication", s.CreateApplication(ctx, &a))
	wantA.Version = 1
	applicationReads := func(when string, want store.Application) {
		t.Helper()
		sameRecord(t, "GetApplication"+when, must(s.GetApplication(ctx, want.ID)), want)
		sameRecord(t, "GetApplicationByKey"+when, must(s.GetApplicationByKey(ctx, want.AppKey)), want)
		sameRecord(t, "ListApplications"+when, must(s.ListApplications(ctx))[0], want)
	}
	sameRecord(t, "CreateApplication", a, wantA)
	applicationReads("", wantA)
	wantA = filled[store.Application](t, 2)
	replaced(&wantA, assigned{a.ID, a.CreatedAt, 2})
	a, err = s.UpdateApplication(ctx, a.ID, func(x *store.Application) error { *x = filled[store.Application](t, 2); return nil })
	noErr(t, "UpdateApplication", err)
	sameRecord(t, "UpdateApplication", a, wantA)
	applicationReads(" after UpdateApplication", wantA)

	recovery := func(seed int) store.RecoveryCode {
		r := filled[store.RecoveryCode](t, seed)
		r.ApplicationID = a.ID // a foreign key
		return r
	}
	rc := recovery(1)
	wantRC := rc
	noErr(t, "CreateRecoveryCode", s.CreateRecoveryCode(ctx, &rc))
	wantRC.Version, wantRC.UpdatedAt = 1, wantRC.CreatedAt // documented: UpdatedAt = CreatedAt
	recoveryReads := func(when string, want store.RecoveryCode) {
		t.Helper()
		sameRecord(t, "GetRecoveryCode"+when, must(s.GetRecoveryCode(ctx, want.ID)), want)
		sameRecord(t, "GetRecoveryCodeByLookupKey"+when, must(s.GetRecoveryCodeByLookupKey(ctx, a.ID, want.LookupKey)), want)
		list := must(s.ListRecoveryCodes(ctx, store.RecoveryCodeFilter{UserID: want.UserID}))
		if len(list) != 1 {
			t.Fatalf("ListRecoveryCodes%s: %d codes", when, len(list))
		}
		sameRecord(t, "ListRecoveryCodes"+when, list[0], want)
	}
	sameRecord(t, "CreateRecoveryCode", rc, wantRC)
	recoveryReads("", wantRC)
	wantRC = recovery(2)
	replaced(&wantRC, assigned{rc.ID, rc.CreatedAt, 2})
	rc, err = s.UpdateRecoveryCode(ctx, rc.ID, func(x *store.RecoveryCode) error { *x = recovery(2); return nil })
	noErr(t, "UpdateRecoveryCode", err)
	sameRecord(t, "UpdateRecoveryCode", rc, wantRC)
	recoveryReads(" after UpdateRecoveryCode", wantRC)

	// Push tokens: of an ACTIVE credential (ListPushTokens lists no other);
	// UserID comes from the credential, CreatedAt is the first put's time.
	phone := mustCredential(t, s, store.Credential{UserID: u.ID})
	pushToken := func(seed int) store.PushToken {
		p := filled[store.PushToken](t, seed)
		p.CredentialID = phone.ID
		return p
	}
	p := pushToken(1)
	wantP := p
	noErr(t, "PutPushToken", s.PutPushToken(ctx, &p))
	wantP.UserID, wantP.CreatedAt = u.ID, wantP.UpdatedAt
	pushReads := func(when string, want store.PushToken) {
		t.Helper()
		sameRecord(t, "GetPushToken"+when, must(s.GetPushToken(ctx, phone.ID)), want)
		list := must(s.ListPushTokens(ctx, u.ID))
		if len(list) != 1 {
			t.Fatalf("ListPushTokens%s: %d tokens", when, len(list))
		}
		sameRecord(t, "ListPushTokens"+when, list[0], want)
	}
	sameRecord(t, "PutPushToken", p, wantP)
	pushReads("", wantP)
	first := wantP.CreatedAt
	p = pushToken(2)
	wantP = p
	noErr(t, "PutPushToken again", s.PutPushToken(ctx, &p))
	wantP.UserID, wantP.CreatedAt = u.ID, first
	sameRecord(t, "PutPushToken again", p, wantP)
	pushReads(" after a second PutPushToken", wantP)

	// Inbox messages.
	m := filled[store.InboxMessage](t, 1)
	m.UserID = u.ID
	wantM := m
	noErr(t, "CreateInboxMessage", s.CreateInboxMessage(ctx, &m))
	sameRecord(t, "CreateInboxMessage", m, wantM)
	sameRecord(t, "GetInboxMessage", must(s.GetInboxMessage(ctx, u.ID, m.ID)), wantM)
	inbox := must(s.ListInbox(ctx, store.InboxFilter{UserID: u.ID}))
	if len(inbox) != 1 {
		t.Fatalf("ListInbox: %d messages", len(inbox))
	}
	sameRecord(t, "ListInbox", inbox[0], wantM)
}

// must is v, or panics with a readError that testRoundTrip turns into a
// failure: a read inline, for the reads whose error is not the point.
func must[T any](v T, err error) T {
	if err != nil {
		panic(readError{err})
	}
	return v
}

type readError struct{ error }
