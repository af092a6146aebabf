package server_test

import (
	"context"
	"testing"
	"time"

	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// secondDevice activates and commits another phone of an existing user.
func (e *paEnv) secondDevice(userID string) (*padevice.Client, *padevice.State) {
	e.t.Helper()
	a := e.initActivation(userID, nil)
	c := e.client(powerauth.Version33)
	st, err := c.Activate(context.Background(), e.cfg, a["activation_code"].(string), paPIN, padevice.ActivateOptions{Name: "tablet"})
	if err != nil {
		e.t.Fatalf("activate: %v", err)
	}
	if status, r := e.bank("POST", "/v1/activations/"+st.ActivationID+"/commit", nil); status != 200 {
		e.t.Fatalf("commit: %d %v", status, r)
	}
	return c, st
}

// payment creates a payment operation in any currency.
func (e *paEnv) payment(userID, amount, currency string) string {
	e.t.Helper()
	status, op := e.bank("POST", "/v1/operations", map[string]any{"user_id": userID, "type": "payment",
		"payee":  map[string]any{"account": "DE89 3704 0044 0532 0130 00", "name": "Gulf Traders"},
		"amount": amount, "currency": currency})
	if status != 201 {
		e.t.Fatalf("create operation: %d %v", status, op)
	}
	return op["id"].(string)
}

func amountOf(t *testing.T, op padevice.Operation) (string, string, string) {
	t.Helper()
	for _, a := range op.FormData.Attributes {
		if a.Type == "AMOUNT" {
			return string(a.Amount), a.AmountFormatted, a.CurrencyFormatted
		}
	}
	t.Fatalf("operation %s has no AMOUNT attribute: %+v", op.ID, op.FormData.Attributes)
	return "", "", ""
}

// testMobileAmounts: the app displays what is signed. amountFormatted keeps every stored decimal (BHD 3, JPY
// 0; the Android SDK would otherwise round the raw amount to 2) in the grouping of the request's
// Accept-Language, and the list carries the server's clock.
func testMobileAmounts(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	tests := []struct {
		lang, amount, currency    string
		wantAmount, wantFormatted string
		wantCurrency              string
	}{
		{"en", "1.234", "BHD", "1.234", "1.234", "BHD"},
		{"en-GB,en;q=0.8", "1234567.891", "BHD", "1234567.891", "1,234,567.891", "BHD"},
		{"ja", "1000000", "JPY", "1000000", "1,000,000", "￥"},
		{"cs-CZ,cs;q=0.9,en;q=0.5", "1234567.5", "CZK", "1234567.50", "1\u00a0234\u00a0567,50", "Kč"},
		{"de-CH", "98765.40", "CHF", "98765.40", "98’765.40", "CHF"},
		{"", "12.00", "EUR", "12.00", "12.00", "€"}, // no header: English
		{"!!not a language", "0.10", "USD", "0.10", "0.10", "$"},
	}
	for _, tt := range tests {
		t.Run(tt.lang+" "+tt.currency, func(t *testing.T) {
			id := e.payment(userID, tt.amount, tt.currency)
			c.AcceptLanguage = tt.lang
			defer func() { c.AcceptLanguage = "" }()
			ops, at, err := c.ListOperationsAt(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if !at.Equal(e.clock.Now().Truncate(time.Second)) {
				t.Fatalf("currentTimestamp %v, want the server clock %v", at, e.clock.Now())
			}
			var found bool
			for _, op := range ops {
				if op.ID != id {
					continue
				}
				found = true
				raw, formatted, cur := amountOf(t, op)
				if raw != tt.wantAmount || formatted != tt.wantFormatted || cur != tt.wantCurrency {
					t.Fatalf("amount %s, formatted %q %q; want %s, %q %q", raw, formatted, cur, tt.wantAmount, tt.wantFormatted, tt.wantCurrency)
				}
			}
			if !found {
				t.Fatalf("operation %s not listed", id)
			}
			detail, err := c.OperationDetail(ctx, st, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, formatted, _ := amountOf(t, detail); formatted != tt.wantFormatted {
				t.Fatalf("detail formatted %q, want %q", formatted, tt.wantFormatted)
			}
		})
	}
}

// testMobileHistory: the history is signed like the SDK signs it (possession + knowledge over {}, uriId
// /operation/history) and lists every status; a possession-only signature or a wrong PIN is refused, and the
// wrong PIN counts.
func testMobileHistory(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	var created []string // oldest first, a second apart
	for _, amount := range []string{"1.00", "2.00", "3.00"} {
		created = append(created, e.operation(userID, amount))
		e.clock.Advance(time.Second)
	}
	approved, rejected, pending := created[0], created[1], created[2]
	op, err := c.OperationDetail(ctx, st, approved)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Approve(ctx, st, op, paPIN); err != nil {
		t.Fatal(err)
	}
	if err := c.Reject(ctx, st, rejected, padevice.ReasonUnexpectedOperation); err != nil {
		t.Fatal(err)
	}

	t.Run("possession only is refused", func(t *testing.T) {
		hdr, err := c.SignatureHeader(st, "POST", "/operation/history", []byte("{}"), powerauth.SignaturePossession, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := paPost(e.url+"/api/auth/token/app/operation/history", hdr, []byte("{}")); !padevice.IsCode(err, "POWERAUTH_AUTH_FAIL") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("signed for another uriId is refused", func(t *testing.T) {
		hdr, err := c.SignatureHeader(st, "POST", "/operation/list", []byte("{}"), powerauth.SignaturePossessionKnowledge, paPIN)
		if err != nil {
			t.Fatal(err)
		}
		if err := paPost(e.url+"/api/auth/token/app/operation/history", hdr, []byte("{}")); !padevice.IsCode(err, "POWERAUTH_AUTH_FAIL") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong PIN counts", func(t *testing.T) {
		if _, err := c.History(ctx, st, "0000"); !padevice.IsCode(err, "POWERAUTH_AUTH_FAIL") {
			t.Fatalf("got %v", err)
		}
		if n := e.credential(st.ActivationID).FailedAttempts; n != 1 {
			t.Fatalf("failed attempts %d, want 1", n)
		}
	})
	t.Run("lists every status", func(t *testing.T) {
		ops, err := c.History(ctx, st, paPIN)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, o := range ops {
			got[o.ID] = o.Status
		}
		want := map[string]string{approved: "APPROVED", rejected: "REJECTED", pending: "PENDING"}
		for id, s := range want {
			if got[id] != s {
				t.Fatalf("history %v, want %v", got, want)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("history %v has operations of other users", got)
		}
		if ops[0].ID != pending || ops[2].ID != approved {
			t.Fatalf("history is not newest first: %s, %s, %s", ops[0].ID, ops[1].ID, ops[2].ID)
		}
		if n := e.credential(st.ActivationID).FailedAttempts; n != 0 {
			t.Fatalf("a good signature leaves %d failed attempts", n)
		}
	})
}

// testMobileClaim: an operation opened from a QR code or a deep link becomes the claiming activation's;
// another activation of the user no longer lists, sees, approves or claims it, and another user's
// activation cannot claim it at all (it looks unknown).
func testMobileClaim(t *testing.T, e *paEnv) {
	ctx := context.Background()
	phone, phoneSt, userID := e.activeDevice(nextUser(), powerauth.Version33)
	tablet, tabletSt := e.secondDevice(userID)
	stranger, strangerSt, _ := e.activeDevice(nextUser(), powerauth.Version33)
	opID := e.payment(userID, "1.234", "BHD")

	if _, err := stranger.ClaimOperation(ctx, strangerSt, opID); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("another user's claim: %v", err)
	}
	if o, _ := e.st.GetOperation(ctx, opID); len(o.Data) != 0 {
		t.Fatalf("a refused claim wrote %s", o.Data)
	}
	phone.AcceptLanguage = "en"
	op, err := phone.ClaimOperation(ctx, phoneSt, opID)
	if err != nil {
		t.Fatal(err)
	}
	if _, formatted, _ := amountOf(t, op); op.ID != opID || op.Status != "PENDING" || formatted != "1.234" {
		t.Fatalf("claimed %+v", op)
	}
	if _, err := phone.ClaimOperation(ctx, phoneSt, opID); err != nil {
		t.Fatalf("a repeated claim by the same activation: %v", err)
	}

	list, err := tablet.ListOperations(ctx, tabletSt)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range list {
		if o.ID == opID {
			t.Fatal("the other activation still lists the claimed operation")
		}
	}
	if _, err := tablet.OperationDetail(ctx, tabletSt, opID); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("detail by the other activation: %v", err)
	}
	if _, err := tablet.ClaimOperation(ctx, tabletSt, opID); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("claim by the other activation: %v", err)
	}
	if err := tablet.Approve(ctx, tabletSt, op, paPIN); !padevice.IsCode(err, "INVALID_ACTIVATION") {
		t.Fatalf("approval by the other activation: %v", err)
	}
	if err := tablet.Reject(ctx, tabletSt, opID, ""); !padevice.IsCode(err, "INVALID_ACTIVATION") {
		t.Fatalf("rejection by the other activation: %v", err)
	}
	if o, _ := e.st.GetOperation(ctx, opID); o.Status != store.OpPending || o.FailedAttempts != 0 {
		t.Fatalf("after the other activation's attempts: %s with %d failures", o.Status, o.FailedAttempts)
	}
	if err := phone.Approve(ctx, phoneSt, op, paPIN); err != nil {
		t.Fatalf("approval by the claiming activation: %v", err)
	}
	if _, err := phone.ClaimOperation(ctx, phoneSt, opID); !padevice.IsCode(err, "OPERATION_ALREADY_FINISHED") {
		t.Fatalf("claim of an approved operation: %v", err)
	}
}
