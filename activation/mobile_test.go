package activation

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"golang.org/x/text/language"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

func TestMobileView(t *testing.T) {
	created := time.Date(2030, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	base := store.Operation{ID: "op", Type: "payment", Status: store.OpPending, CreatedAt: created, ExpiresAt: created.Add(5 * time.Minute)}
	twoFA := AllowedSignatureType{Type: "2FA", Variants: []string{"possession_knowledge", "possession_biometry"}}
	amount := FormAttribute{Type: "AMOUNT", ID: "operation.amount", Label: "Amount", Amount: "1234.50", Currency: "EUR",
		AmountFormatted: "1\u00a0234,50", CurrencyFormatted: "€"}
	account := FormAttribute{Type: "KEY_VALUE", ID: "operation.account", Label: "To account", Value: "DE89370400440532013000"}
	payee := FormAttribute{Type: "KEY_VALUE", ID: "operation.payee", Label: "Payee", Value: "Landlord"}
	note := FormAttribute{Type: "NOTE", ID: "operation.note", Label: "Note", Note: "rent"}
	for _, tc := range []struct {
		name  string
		with  func(*store.Operation)
		data  string
		attrs []FormAttribute
	}{
		{"everything", func(o *store.Operation) {
			o.Amount, o.Currency, o.PayeeAccount, o.PayeeName, o.Text = "1234.50", "EUR", "DE89370400440532013000", "Landlord", "rent"
		}, "A1*A1234.50EUR*IDE89370400440532013000*TLandlord*Nrent", []FormAttribute{amount, account, payee, note}},
		{"amount only", func(o *store.Operation) { o.Amount, o.Currency = "1234.50", "EUR" }, "A1*A1234.50EUR", []FormAttribute{amount}},
		{"payee only", func(o *store.Operation) {
			o.Type, o.PayeeAccount, o.PayeeName = "beneficiary.add", "DE89370400440532013000", "Landlord"
		},
			"A0*IDE89370400440532013000*TLandlord", []FormAttribute{account, payee}},
		{"text only", func(o *store.Operation) { o.Type, o.Text = "login", "rent" }, "A2*Nrent", []FormAttribute{note}},
		{"nothing", func(o *store.Operation) { o.Type = "login" }, "A2", []FormAttribute{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := base
			tc.with(&op)
			got, err := mobileView(op, language.Czech)
			if err != nil {
				t.Fatal(err)
			}
			want := MobileOperation{ID: "op", Name: op.Type, Data: tc.data, Status: "PENDING", OperationCreated: "2030-03-04T04:06:07+0000",
				OperationExpires: "2030-03-04T04:11:07+0000", AllowedSignatureType: twoFA,
				FormData: FormData{Title: operationTitle(op), Message: operationMessage(op), Attributes: tc.attrs}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
	t.Run("operation data that cannot be encoded", func(t *testing.T) {
		op := base
		op.Amount, op.Currency = "1.00", "EURO"
		if _, err := mobileView(op, language.English); err == nil {
			t.Fatal("accepted")
		}
	})
}

func TestAMR(t *testing.T) {
	for typ, want := range map[powerauth.SignatureType][]string{tP: {"swk"}, tPK: {"swk", "pin"}, tPB: {"swk", "fpt"},
		tPKB: {"swk", "pin", "fpt"}} {
		if got := amrFor(typ); !slices.Equal(got, want) {
			t.Errorf("amrFor(%s) = %v, want %v", typ, got, want)
		}
	}
}

func TestOperationStateError(t *testing.T) {
	err := error(&OperationStateError{Status: store.OpCanceled, Err: fault.ErrConflict})
	if err.Error() != "operation is CANCELED" || !errors.Is(err, fault.ErrConflict) {
		t.Fatalf("%v", err)
	}
}

// TestMobileNeedsOperations: without an operation service every mobile-token and offline method says so.
func TestMobileNeedsOperations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ta := TokenAuth{}
	errs := []error{}
	_, err := f.s.ListOperations(ctx, ta, language.English)
	errs = append(errs, err)
	_, err = f.s.OperationHistory(ctx, SignedRequest{}, language.English)
	errs = append(errs, err)
	_, err = f.s.OperationDetail(ctx, ta, "", language.English)
	errs = append(errs, err)
	_, err = f.s.ClaimOperation(ctx, ta, "", language.English)
	errs = append(errs, err)
	_, err = f.s.Authorize(ctx, SignedRequest{})
	errs = append(errs, err)
	_, err = f.s.Cancel(ctx, SignedRequest{})
	errs = append(errs, err)
	_, err = f.s.OfflinePayload(ctx, "", "")
	errs = append(errs, err)
	_, err = f.s.VerifyOfflineCode(ctx, "bank", "", "", "")
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, ErrNoOperations) {
			t.Errorf("call %d: %v", i, err)
		}
	}
}

func wantInvalid(t *testing.T, err error, field string) {
	t.Helper()
	var inv *fault.InvalidError
	if !errors.As(err, &inv) || inv.Problems[0].Field != field {
		t.Fatalf("got %v, want a problem with %q", err, field)
	}
}

func wantState(t *testing.T, err error, status store.OperationStatus, kind error) {
	t.Helper()
	var se *OperationStateError
	if !errors.As(err, &se) || se.Status != status || !errors.Is(err, kind) {
		t.Fatalf("got %v, want the operation %s (%v)", err, status, kind)
	}
}

func ids(ops []MobileOperation) []string {
	out := []string{}
	for _, op := range ops {
		out = append(out, op.ID)
	}
	return out
}

// TestMobileOperations: what the list, the history, the detail and the claim show an activation: its user's
// operations PowerAuth may approve, less those another activation claimed; a PENDING one at its expiry is
// not listed.
func TestMobileOperations(t *testing.T) {
	p := newPAFixture(t)
	ctx := context.Background()
	lang := language.English
	stA, stB := p.activate(t, p.user, 0), p.activate(t, p.user, 0)
	u2 := p.newUser(t, "u2")
	stC := p.activate(t, u2, 0)
	A, B, C := TokenAuth{Activation: p.cred(t, stA.ActivationID)}, TokenAuth{Activation: p.cred(t, stB.ActivationID)},
		TokenAuth{Activation: p.cred(t, stC.ActivationID)}
	next := func() { p.clock.Advance(time.Second) }
	op1 := p.payment(t, p.user, nil)
	next()
	op2 := p.payment(t, p.user, nil)
	if _, err := p.ops.Claim(ctx, op2.ID, B.Activation); err != nil {
		t.Fatal(err)
	}
	next()
	op3 := p.payment(t, p.user, nil)
	if _, err := p.s.ClaimOperation(ctx, A, op3.ID, lang); err != nil {
		t.Fatal(err)
	}
	next()
	op4 := p.payment(t, p.user, func(n *txsign.NewOperation) { n.Factors = []string{"passkey"} })
	next()
	op5 := p.payment(t, p.user, nil)
	if _, err := p.ops.Cancel(ctx, "bank", op5.ID); err != nil {
		t.Fatal(err)
	}
	next()
	op6 := p.payment(t, u2, nil)

	t.Run("list", func(t *testing.T) {
		for _, tc := range []struct {
			ta   TokenAuth
			want []string
		}{{A, []string{op1.ID, op3.ID}}, {B, []string{op1.ID, op2.ID}}, {C, []string{op6.ID}}} {
			got, err := p.s.ListOperations(ctx, tc.ta, lang)
			if err != nil || !slices.Equal(ids(got), tc.want) {
				t.Fatalf("got %v, %v; want %v", ids(got), err, tc.want)
			}
		}
		got, _ := p.s.ListOperations(ctx, A, lang)
		if want, _ := mobileView(p.op(t, op1.ID), lang); !reflect.DeepEqual(got[0], want) {
			t.Fatalf("got %+v, want %+v", got[0], want)
		}
	})
	t.Run("history", func(t *testing.T) {
		history := func(typ powerauth.SignatureType, pin string, body []byte) ([]MobileOperation, error) {
			h := p.sign(t, stA, "POST", URIOperationHistory, body, typ, pin)
			return p.s.OperationHistory(ctx, SignedRequest{Authorization: h, Body: body}, lang)
		}
		for i, typ := range []powerauth.SignatureType{tPK, tPB} {
			got, err := history(typ, testPIN, []byte("{}"))
			if want := []string{op5.ID, op3.ID, op1.ID}; err != nil || !slices.Equal(ids(got), want) {
				t.Fatalf("%s: got %v, %v; want %v", typ, ids(got), err, want)
			}
			p.wantEvent(t, "powerauth.operation.history", audit.Success, "", A.Activation.ID)
			p.wantCounter(t, A.Activation.ID, int64(i+1), 0)
		}
		for _, typ := range []powerauth.SignatureType{tP, tPKB} {
			_, err := history(typ, testPIN, []byte("{}"))
			p.wantRefused(t, err, "powerauth.operation.history", audit.Unverified, "signature type "+typ.String()+" not allowed here", A.Activation.ID)
		}
		_, err := history(tPK, testPIN, []byte("[]"))
		wantInvalid(t, err, "")
		p.wantCounter(t, A.Activation.ID, 2, 0)
	})
	t.Run("detail", func(t *testing.T) {
		for _, op := range []store.Operation{op1, op3, op5} {
			got, err := p.s.OperationDetail(ctx, A, op.ID, lang)
			if want, _ := mobileView(p.op(t, op.ID), lang); err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, want)
			}
		}
		for _, id := range []string{op2.ID, op6.ID, "00000000-0000-4000-8000-000000000000"} {
			if _, err := p.s.OperationDetail(ctx, A, id, lang); !errors.Is(err, fault.ErrNotFound) {
				t.Fatalf("%s: got %v", id, err)
			}
		}
		_, err := p.s.OperationDetail(ctx, A, "x", lang)
		wantInvalid(t, err, "id")
	})
	t.Run("claim", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		got, err := p.s.ClaimOperation(ctx, A, op.ID, lang)
		stored := p.op(t, op.ID)
		if want, _ := mobileView(stored, lang); err != nil || !reflect.DeepEqual(got, want) || txsign.ClaimedBy(stored) != A.Activation.ID {
			t.Fatalf("got %+v, %v; claimed by %q", got, err, txsign.ClaimedBy(stored))
		}
		for _, ta := range []TokenAuth{B, C} {
			if _, err := p.s.ClaimOperation(ctx, ta, op.ID, lang); !errors.Is(err, fault.ErrNotFound) || errors.Is(err, fault.ErrForbidden) {
				t.Fatalf("got %v", err)
			}
		}
		_, err = p.s.ClaimOperation(ctx, A, op5.ID, lang)
		wantState(t, err, store.OpCanceled, fault.ErrConflict)
		_, err = p.s.ClaimOperation(ctx, A, op4.ID, lang)
		var se *OperationStateError
		if !errors.Is(err, fault.ErrForbidden) || errors.As(err, &se) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a PENDING operation at its expiry", func(t *testing.T) {
		p.clock.Advance(op1.ExpiresAt.Sub(p.clock.Now()))
		got, err := p.s.ListOperations(ctx, B, lang)
		if want := []string{op2.ID}; err != nil || !slices.Equal(ids(got), want) {
			t.Fatalf("got %v, %v; want %v", ids(got), err, want)
		}
		if op := p.op(t, op1.ID); op.Status != store.OpPending {
			t.Fatalf("operation %s", op.Status)
		}
		h := p.sign(t, stB, "POST", URIOperationHistory, nil, tPK, testPIN)
		got, err = p.s.OperationHistory(ctx, SignedRequest{Authorization: h}, lang)
		if want := []string{op5.ID, op2.ID}; err != nil || !slices.Equal(ids(got), want) {
			t.Fatalf("got %v, %v; want %v", ids(got), err, want)
		}
		_, err = p.s.ClaimOperation(ctx, A, op1.ID, lang)
		wantState(t, err, store.OpExpired, fault.ErrGone)
	})
}

// operationBody is the authorize or cancel body the SDKs sign.
func operationBody(id, data, reason string) []byte {
	o := map[string]string{"id": id}
	if data != "" {
		o["data"] = data
	}
	if reason != "" {
		o["reason"] = reason
	}
	b, _ := json.Marshal(map[string]any{"requestObject": o})
	return b
}

func (p *paFixture) authorize(t *testing.T, st *device.State, body []byte, typ powerauth.SignatureType, pin string) (txsign.Result, error) {
	t.Helper()
	h := p.sign(t, st, "POST", URIOperationAuthorize, body, typ, pin)
	return p.s.Authorize(context.Background(), SignedRequest{Authorization: h, Body: body})
}

func (p *paFixture) cancel(t *testing.T, st *device.State, body []byte, typ powerauth.SignatureType, pin string) (txsign.Result, error) {
	t.Helper()
	h := p.sign(t, st, "POST", URIOperationCancel, body, typ, pin)
	return p.s.Cancel(context.Background(), SignedRequest{Authorization: h, Body: body})
}

// wantOp checks an operation's status and failed attempts.
func (p *paFixture) wantOp(t *testing.T, id string, status store.OperationStatus, failed int) {
	t.Helper()
	if op := p.op(t, id); op.Status != status || op.FailedAttempts != failed {
		t.Fatalf("operation %s with %d failures, want %s with %d", op.Status, op.FailedAttempts, status, failed)
	}
}

// TestAuthorize: approval needs a two-factor signature over the operation's data byte for byte; a wrong
// knowledge factor counts on the operation and the activation, signed data that differs on the operation
// only, and a valid signature's counter is spent whether the decision commits or not.
func TestAuthorize(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID
	op := p.payment(t, p.user, nil)
	body := operationBody(op.ID, paymentData, "")
	const approve = "operation.approve"

	_, err := p.authorize(t, st, body, tPK, "0000")
	p.wantRefused(t, err, approve, audit.Failure, "wrong knowledge or biometry factor: "+powerauth.ErrFactorMismatch.Error(), id)
	p.wantCounter(t, id, 0, 1)
	p.wantOp(t, op.ID, store.OpPending, 1)

	h := forged(t, p.sign(t, st, "POST", URIOperationAuthorize, body, tPK, testPIN))
	_, err = p.s.Authorize(ctx, SignedRequest{Authorization: h, Body: body})
	p.wantRefused(t, err, approve, audit.Unverified, "possession not proven: "+powerauth.ErrSignatureMismatch.Error(), id)
	p.wantCounter(t, id, 0, 1)
	p.wantOp(t, op.ID, store.OpPending, 1)

	_, err = p.authorize(t, st, body, tP, "")
	ev := p.wantRefused(t, err, approve, audit.Unverified,
		"possession not proven: approval needs possession_knowledge or possession_biometry, got possession", id)
	if extra := ev["extra"].(map[string]any); extra["signature_type"] != "possession" || ev["amr"].([]any)[0] != "swk" {
		t.Fatalf("evidence %v", ev)
	}
	p.wantCounter(t, id, 0, 1)
	p.wantOp(t, op.ID, store.OpPending, 1)

	// The right factors over other data: the operation's failure; the counter (offset 3) is spent all the
	// same, and the activation's failed attempts are neither counted nor reset.
	_, err = p.authorize(t, st, operationBody(op.ID, paymentData+"*Nx", ""), tPK, testPIN)
	ev = p.wantRefused(t, err, approve, audit.Failure, "operation data does not match the stored operation (counts on the operation only)", id)
	extra := ev["extra"].(map[string]any)
	wantNumber(t, extra, "counter", 3)
	if extra["operation_data"] != paymentData {
		t.Fatalf("evidence %v", ev)
	}
	p.wantCounter(t, id, 4, 1)
	p.wantOp(t, op.ID, store.OpPending, 2)

	_, err = p.authorize(t, st, operationBody(op.ID, paymentData, "UNKNOWN"), tPK, testPIN)
	wantInvalid(t, err, "reason")
	_, err = p.authorize(t, st, []byte(`{"requestObject":{"id":"x"}}`), tPK, testPIN)
	wantInvalid(t, err, "id")
	p.wantCounter(t, id, 4, 1)

	h = p.sign(t, st, "POST", URIOperationAuthorize, body, tPK, testPIN)
	res, err := p.s.Authorize(ctx, SignedRequest{Authorization: h, Body: body})
	if err != nil || res.Token == "" || res.Operation.Status != store.OpApproved || res.Operation.ID != op.ID {
		t.Fatalf("approve: %+v, %v", res.Operation, err)
	}
	cred := p.wantCounter(t, id, 7, 0)
	p.wantOp(t, op.ID, store.OpApproved, 2)
	ev = p.wantEvent(t, approve, audit.Success, "", id)
	hdr, _ := powerauth.ParseAuthorizationHeader(h)
	extra = ev["extra"].(map[string]any)
	wantNumber(t, extra, "counter", 6)
	if ev["alg"] != "PowerAuth-3.2-HMAC" || ev["signed"] != SignedBase("POST", URIOperationAuthorize, hdr.Nonce, body) ||
		ev["signature"] != hdr.Signature || ev["public_key"] != b64url(cred.PublicKey) ||
		!reflect.DeepEqual(ev["amr"], []any{"swk", "pin"}) || extra["signature_type"] != "possession_knowledge" ||
		extra["uri_id"] != URIOperationAuthorize || extra["application_id"] != p.app.ID || extra["operation_data"] != paymentData {
		t.Fatalf("evidence %v", ev)
	}
	// The decision stored CTR_DATA with the counter: the next signature verifies at offset 0.
	h = p.sign(t, st, "POST", URISignatureValidate, nil, tP, "")
	v, err := p.s.Verify(ctx, eventValidate, SignedRequest{Method: "POST", URIID: URISignatureValidate, Authorization: h}, nil)
	if err != nil || v.Match.Offset != 0 {
		t.Fatalf("next signature: %v", err)
	}

	t.Run("approved already", func(t *testing.T) {
		_, err := p.authorize(t, st, body, tPK, testPIN)
		wantState(t, err, store.OpApproved, fault.ErrConflict)
		p.wantCounter(t, id, 8, 0)
	})
	t.Run("possession_biometry", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		if _, err := p.authorize(t, st, operationBody(op.ID, paymentData, ""), tPB, ""); err != nil {
			t.Fatal(err)
		}
		ev := p.wantEvent(t, approve, audit.Success, "", id)
		if !reflect.DeepEqual(ev["amr"], []any{"swk", "fpt"}) {
			t.Fatalf("evidence %v", ev)
		}
		p.wantCounter(t, id, 10, 0)
	})
	t.Run("unknown activation", func(t *testing.T) {
		hdr, _ := powerauth.ParseAuthorizationHeader(p.sign(t, st, "POST", URIOperationAuthorize, body, tPK, testPIN))
		hdr.ActivationID = "00000000-0000-4000-8000-000000000000"
		_, err := p.s.Authorize(ctx, SignedRequest{Authorization: hdr.HeaderValue(), Body: body})
		p.wantRefused(t, err, approve, audit.Unverified, "unknown activation", "")
		if ev, _ := p.lastEvent(t); ev.OperationID != op.ID || ev.Actor != "mobile" {
			t.Fatalf("event %+v", ev)
		}
	})
}

// TestCancel: a rejection takes a signature of any type; possession alone resets no failed attempts.
func TestCancel(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID
	if err := p.validate(t, st, tPK, "0000"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	p.wantCounter(t, id, 0, 1)

	op := p.payment(t, p.user, nil)
	res, err := p.cancel(t, st, operationBody(op.ID, "", "INCORRECT_DATA"), tP, "")
	if err != nil || res.Operation.Status != store.OpRejected || res.Token != "" {
		t.Fatalf("cancel: %+v, %v", res, err)
	}
	ev := p.wantEvent(t, "operation.reject", audit.Success, "", id)
	extra := ev["extra"].(map[string]any)
	wantNumber(t, extra, "counter", 1)
	if extra["reason"] != "INCORRECT_DATA" || extra["uri_id"] != URIOperationCancel || !reflect.DeepEqual(ev["amr"], []any{"swk"}) {
		t.Fatalf("evidence %v", ev)
	}
	p.wantCounter(t, id, 2, 1)
	p.wantOp(t, op.ID, store.OpRejected, 0)

	op = p.payment(t, p.user, nil)
	body := operationBody(op.ID, "", "")
	h := forged(t, p.sign(t, st, "POST", URIOperationCancel, body, tP, ""))
	_, err = p.s.Cancel(ctx, SignedRequest{Authorization: h, Body: body})
	p.wantRefused(t, err, "operation.reject", audit.Unverified, "possession not proven: "+powerauth.ErrSignatureMismatch.Error(), id)
	p.wantOp(t, op.ID, store.OpPending, 0)

	if _, err := p.cancel(t, st, body, tPK, testPIN); err != nil {
		t.Fatal(err)
	}
	p.wantCounter(t, id, 4, 0)
	p.wantOp(t, op.ID, store.OpRejected, 0)
}

// TestDecideOperationState: an operation that can no longer be decided answers its state; a valid signature
// whose decision lost the race to another request still spends its counter.
func TestDecideOperationState(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID

	t.Run("expired", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		p.clock.Advance(op.ExpiresAt.Sub(p.clock.Now()))
		_, err := p.authorize(t, st, operationBody(op.ID, paymentData, ""), tPK, testPIN)
		wantState(t, err, store.OpExpired, fault.ErrGone)
		p.wantCounter(t, id, 0, 0)
	})
	t.Run("stored operation altered", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		if _, err := p.st.UpdateOperationFrom(ctx, op, func(o *store.Operation) error { o.Amount = "1000.00"; return nil }); err != nil {
			t.Fatal(err)
		}
		_, err := p.authorize(t, st, operationBody(op.ID, "A1*A1000.00EUR*IDE89370400440532013000*TLandlord", ""), tPK, testPIN)
		var se *OperationStateError
		if !errors.Is(err, fault.ErrConflict) || errors.As(err, &se) {
			t.Fatalf("got %v", err)
		}
		p.wantOp(t, op.ID, store.OpPending, 0)
		p.wantCounter(t, id, 0, 0)
	})
	t.Run("claimed by another activation", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		other := p.activate(t, p.user, 0)
		if _, err := p.ops.Claim(ctx, op.ID, p.cred(t, other.ActivationID)); err != nil {
			t.Fatal(err)
		}
		_, err := p.authorize(t, st, operationBody(op.ID, paymentData, ""), tPK, testPIN)
		var se *OperationStateError
		if !errors.Is(err, txsign.ErrClaimedByOther) || errors.As(err, &se) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("canceled while the signature was checked", func(t *testing.T) {
		_ = p.validate(t, st, tPK, "0000")
		p.wantCounter(t, id, 0, 1)
		// The device signs at 4 (offset 4: its first three were refused unchecked, the wrong PIN counted
		// nothing on the counter), then at 5.
		for i, decision := range []func(*testing.T, *device.State, []byte, powerauth.SignatureType, string) (txsign.Result, error){p.authorize, p.cancel} {
			op := p.payment(t, p.user, nil)
			p.s.ops = &racingOps{Operations: p.ops, race: func() {
				if _, err := p.ops.Cancel(ctx, "bank", op.ID); err != nil {
					t.Fatal(err)
				}
			}}
			_, err := decision(t, st, operationBody(op.ID, paymentData, ""), tPK, testPIN)
			p.s.ops = p.ops
			wantState(t, err, store.OpCanceled, fault.ErrConflict)
			p.wantCounter(t, id, int64(5+i), 1)
		}
	})
}

// TestOffline: the offline QR code of an operation for one activation and the code the user copies back:
// possession_knowledge over the operation data and the derived nonce, counted like an online approval.
func TestOffline(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	id := st.ActivationID
	op := p.payment(t, p.user, func(n *txsign.NewOperation) { n.Text = "rent" })
	data := paymentData + "*Nrent"

	qr, err := p.s.OfflinePayload(ctx, op.ID, id)
	if err != nil || qr.OperationID != op.ID || qr.ActivationID != id || qr.OperationData != data || !qr.ExpiresAt.Equal(op.ExpiresAt) {
		t.Fatalf("QR %+v, %v", qr, err)
	}
	payload, wrong, err := device.OfflineCode(st, qr.Payload, "0000")
	if err != nil {
		t.Fatal(err)
	}
	if payload.OperationID != op.ID || payload.OperationData != data || payload.Title != "Confirm payment" ||
		payload.Message != "100.00 EUR to Landlord (DE89370400440532013000)\nrent" || payload.Flags != "B" ||
		payload.KeyType != powerauth.OfflineKeyServer || string(payload.Nonce) != string(offlineNonce(op, id)) {
		t.Fatalf("payload %+v", payload)
	}

	_, err = p.s.VerifyOfflineCode(ctx, "bank", op.ID, id, wrong)
	p.wantRefused(t, err, "operation.approve", audit.Failure, "wrong knowledge or biometry factor: "+powerauth.ErrFactorMismatch.Error(), id)
	p.wantCounter(t, id, 0, 1)
	p.wantOp(t, op.ID, store.OpPending, 1)

	_, err = p.s.VerifyOfflineCode(ctx, "bank", op.ID, id, "12345678-12345678")
	p.wantRefused(t, err, "operation.approve", audit.Unverified, "possession not proven: "+powerauth.ErrSignatureMismatch.Error(), id)
	p.wantCounter(t, id, 0, 1)
	p.wantOp(t, op.ID, store.OpPending, 1)

	_, err = p.s.VerifyOfflineCode(ctx, "bank", op.ID, id, "123")
	wantInvalid(t, err, "code")

	_, code, err := device.OfflineCode(st, qr.Payload, testPIN)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.s.VerifyOfflineCode(ctx, "bank", op.ID, id, code)
	if err != nil || res.Token == "" || res.Operation.Status != store.OpApproved {
		t.Fatalf("approve: %+v, %v", res.Operation, err)
	}
	cred := p.wantCounter(t, id, 2, 0)
	ev := p.wantEvent(t, "operation.approve", audit.Success, "", id)
	extra := ev["extra"].(map[string]any)
	wantNumber(t, extra, "counter", 1)
	if ev["alg"] != "PowerAuth-offline-decimal" || ev["signature"] != code || ev["public_key"] != b64url(cred.PublicKey) ||
		!reflect.DeepEqual(ev["amr"], []any{"swk", "pin"}) || extra["signature_type"] != "possession_knowledge" ||
		extra["operation_data"] != data || extra["nonce"] != b64std(offlineNonce(op, id)) ||
		ev["signed"] != b64url([]byte(powerauth.SignatureBaseString(powerauth.OfflineMethod, powerauth.OfflineURIID, offlineNonce(op, id), []byte(op.ID+"&"+data)))) {
		t.Fatalf("evidence %v", ev)
	}
	// The decision stored CTR_DATA with the counter: the next signature verifies at offset 0.
	h := p.sign(t, st, "POST", URISignatureValidate, nil, tP, "")
	if v, err := p.s.Verify(ctx, eventValidate, SignedRequest{Method: "POST", URIID: URISignatureValidate, Authorization: h}, nil); err != nil || v.Match.Offset != 0 {
		t.Fatalf("next signature: %v", err)
	}

	t.Run("approved already", func(t *testing.T) {
		_, err := p.s.VerifyOfflineCode(ctx, "bank", op.ID, id, code)
		wantState(t, err, store.OpApproved, fault.ErrConflict)
		if _, err := p.s.OfflinePayload(ctx, op.ID, id); !errors.Is(err, fault.ErrConflict) {
			t.Fatalf("payload: %v", err)
		}
	})
	t.Run("who may approve", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		u2 := p.newUser(t, "u2")
		foreign := p.activate(t, u2, 0).ActivationID
		blocked := p.activate(t, p.user, 0).ActivationID
		p.transition(t, blocked, store.StatusBlocked)
		passkey := p.passkey(t)
		passkeyOnly := p.payment(t, p.user, func(n *txsign.NewOperation) { n.Factors = []string{"passkey"} })
		for _, tc := range []struct {
			name, op, activation string
			want                 func(*testing.T, error)
		}{
			{"malformed activation id", op.ID, "x", func(t *testing.T, err error) { wantInvalid(t, err, "credential_id") }},
			{"unknown activation", op.ID, "00000000-0000-4000-8000-000000000000", func(t *testing.T, err error) { wantInvalid(t, err, "credential_id") }},
			{"another user's activation", op.ID, foreign, func(t *testing.T, err error) { wantInvalid(t, err, "credential_id") }},
			{"a passkey", op.ID, passkey.ID, func(t *testing.T, err error) { wantInvalid(t, err, "credential_id") }},
			{"a blocked activation", op.ID, blocked, func(t *testing.T, err error) {
				var se *OperationStateError
				if !errors.Is(err, fault.ErrConflict) || errors.As(err, &se) {
					t.Fatalf("got %v", err)
				}
			}},
			{"an operation for passkeys only", passkeyOnly.ID, id, func(t *testing.T, err error) {
				if !errors.Is(err, fault.ErrForbidden) {
					t.Fatalf("got %v", err)
				}
			}},
			{"an unknown operation", "00000000-0000-4000-8000-000000000000", id, func(t *testing.T, err error) {
				if !errors.Is(err, fault.ErrNotFound) {
					t.Fatalf("got %v", err)
				}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := p.s.OfflinePayload(ctx, tc.op, tc.activation)
				tc.want(t, err)
				_, err = p.s.VerifyOfflineCode(ctx, "bank", tc.op, tc.activation, "12345678-12345678")
				tc.want(t, err)
			})
		}
	})
	t.Run("canceled while the code was checked", func(t *testing.T) {
		op := p.payment(t, p.user, nil)
		qr, err := p.s.OfflinePayload(ctx, op.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		_, code, err := device.OfflineCode(st, qr.Payload, testPIN)
		if err != nil {
			t.Fatal(err)
		}
		p.s.ops = &racingOps{Operations: p.ops, race: func() {
			if _, err := p.ops.Cancel(ctx, "bank", op.ID); err != nil {
				t.Fatal(err)
			}
		}}
		_, err = p.s.VerifyOfflineCode(ctx, "bank", op.ID, id, code)
		p.s.ops = p.ops
		wantState(t, err, store.OpCanceled, fault.ErrConflict)
		p.wantCounter(t, id, 4, 0)
	})
}
