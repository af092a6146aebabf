package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/mds"
	"github.com/signet-sca/signet/mds/mdstest"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/webauthn"
)

// Secure Payment Confirmation in a real browser (issue 18 §3). Debian's
// Chromium runs SPC headless only with SecurePaymentConfirmationBrowser among
// the enabled features (the flag replaces chromedp's default value, so that
// value is repeated); DevTools Page.setSPCTransactionMode autoAccept stands in
// for the user pressing "Verify" in the browser's dialog.

const spcFeatures = "NetworkService,NetworkServiceInProcess,SecurePaymentConfirmationBrowser"

var spcInstrument = webauthn.SPCInstrument{DisplayName: "Signet Bank current account"}

// approvalEvent is the last operation.approve (or .reject) audit event of op.
func approvalEvent(t *testing.T, e *webEnv, opID string) store.AuditEvent {
	t.Helper()
	evs, _, err := e.st.ListAudit(context.Background(), store.AuditFilter{OperationID: opID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if strings.HasPrefix(evs[i].Type, "operation.") && evs[i].Type != "operation.create" {
			return evs[i]
		}
	}
	t.Fatalf("no approval event for %s in %+v", opID, evs)
	return store.AuditEvent{}
}

// clientDataType is the type in the clientDataJSON an approval event's evidence recorded.
func clientDataType(t *testing.T, ev store.AuditEvent) (string, map[string]any) {
	t.Helper()
	var evd struct {
		Extra map[string]any `json:"extra"`
	}
	if err := json.Unmarshal(ev.Evidence, &evd); err != nil {
		t.Fatalf("evidence %s: %v", ev.Evidence, err)
	}
	raw, _ := evd.Extra["client_data_json"].(string)
	cdj, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("evidence client_data_json %q: %v", raw, err)
	}
	var cd map[string]any
	if err := json.Unmarshal(cdj, &cd); err != nil {
		t.Fatalf("client data %s: %v", cdj, err)
	}
	typ, _ := cd["type"].(string)
	return typ, cd
}

func TestBrowserSecurePaymentConfirmation(t *testing.T) {
	browser := startBrowser(t, chromedp.Flag("enable-features", spcFeatures))
	ln, origin := listen(t)
	instrument := spcInstrument
	instrument.Icon = origin + "/web/static/spc-icon.png"
	// The bank's FIDO metadata lists the virtual authenticator's model, and lets a
	// passkey with user verification approve a login alone.
	ca := mdstest.New(t)
	root, _ := mds.RootFromPEM(ca.RootPEM())
	allow, err := mds.Load(ca.Blob(t, time.Now().AddDate(0, 1, 0).Format(time.DateOnly),
		mdstest.Entry(virtualAAGUID, "Chromium virtual authenticator", []string{"FIDO_CERTIFIED_L1"}, "fingerprint_internal")), root, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	e := newWebEnv(t, webEnvOpts{origin: origin, ln: ln, mutate: func(c *webauthn.Config) {
		c.CeremonyTimeout = 15 * time.Second
		c.UserVerification = "required"
		c.SPCInstrument = instrument
		c.PasskeyOnlyTypes, c.Authenticators = []string{"login"}, allow
	}})
	uid := e.createUser("spc-1")
	phone := newTab(t, browser)
	phone.enroll(e, uid, browserPasscode)
	if _, err := chromedp.Call(phone.ctx, page.SetSPCTransactionMode, page.SetSPCTransactionModeParams{Mode: page.SetSPCTransactionModeModeAutoAccept}); err != nil {
		t.Fatal(err)
	}

	t.Run("an altered amount shown by the browser is refused", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "1250.00")
		opID := op["id"].(string)
		phone.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		// A tampered page (or browser extension) has the browser show and sign 1.00 CZK instead.
		phone.eval(`(() => { const P = window.PaymentRequest;
			window.PaymentRequest = class extends P { constructor(m, d) { d.total.amount.value = "1.00"; super(m, d); } };
			return ""; })()`)
		if got := phone.approve(browserPasscode); strings.HasPrefix(got, "Approved") {
			t.Fatalf("approval over an altered amount: %q", got)
		}
		got := e.operation(t, opID)
		if got.Status != store.OpPending || got.FailedAttempts != 1 {
			t.Fatalf("operation after the altered amount: %s, %d failed", got.Status, got.FailedAttempts)
		}
		ev := approvalEvent(t, e, opID)
		if ev.Outcome != "failure" || !strings.Contains(ev.Reason, "total differ") {
			t.Fatalf("audit %s %q", ev.Outcome, ev.Reason)
		}
		typ, cd := clientDataType(t, ev)
		pay, _ := cd["payment"].(map[string]any)
		if typ != "payment.get" || pay == nil || pay["total"].(map[string]any)["value"] != "1.00" {
			t.Fatalf("the refused assertion's client data %v", cd)
		}
		// The passcode try was refunded (the passcode was never checked).
		if u := e.mustDo(200, "GET", "/v1/users/"+uid, "", nil); u["passcode_tries_left"] != float64(3) {
			t.Fatalf("tries left %v", u["passcode_tries_left"])
		}
	})

	t.Run("the browser shows payee, amount and instrument; Signet checks them", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "1250.00")
		opID := op["id"].(string)
		phone.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		if got := phone.approve(browserPasscode); !strings.HasPrefix(got, "Approved") {
			t.Fatalf("approval: %q", got)
		}
		saveScreenshotAs(t, phone, "approve-spc-approved-en-390x844")
		if got := e.operation(t, opID); got.Status != store.OpApproved {
			t.Fatalf("operation %s", got.Status)
		}
		ev := approvalEvent(t, e, opID)
		typ, cd := clientDataType(t, ev)
		pay, _ := cd["payment"].(map[string]any)
		if typ != "payment.get" || pay == nil {
			t.Fatalf("approved without SPC: client data %v", cd)
		}
		total, _ := pay["total"].(map[string]any)
		ins, _ := pay["instrument"].(map[string]any)
		if pay["payeeName"] != "Alza.cz a.s." || total["value"] != "1250.00" || total["currency"] != "CZK" ||
			ins["displayName"] != instrument.DisplayName || ins["icon"] != instrument.Icon || pay["rpId"] != "localhost" || pay["topOrigin"] != origin {
			t.Fatalf("what the browser showed: %v", pay)
		}
		tok := e.mustDo(200, "GET", "/v1/operations/"+opID, "", nil)["token"].(string)
		if amr, _ := signettest.TokenAMR(t, tok); !strings.Contains(amr, "pin") {
			t.Fatalf("token amr %q, want the passcode (pin) in it", amr)
		}
	})

	t.Run("a login approved with the passkey alone (the bank's policy), a payment still asks for the passcode", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "7.00")
		phone.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		if got := phone.approve(""); !strings.Contains(got, "Enter your passcode") {
			t.Fatalf("payment without passcode: %q", got)
		}
		login := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login", "text": "Sign in"})
		phone.do(chromedp.Navigate(login["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		if got := phone.approve(""); !strings.HasPrefix(got, "Approved") {
			t.Fatalf("login with the passkey alone: %q", got)
		}
		tok := e.mustDo(200, "GET", "/v1/operations/"+login["id"].(string), "", nil)["token"].(string)
		if amr, acr := signettest.TokenAMR(t, tok); amr != "hwk,fpt,mfa" || acr != "urn:signet:acr:sca" {
			t.Fatalf("amr %q acr %q", amr, acr)
		}
	})

	t.Run("the customer chooses to verify another way: the passkey assertion", func(t *testing.T) {
		if _, err := chromedp.Call(phone.ctx, page.SetSPCTransactionMode, page.SetSPCTransactionModeParams{Mode: page.SetSPCTransactionModeModeAutoChooseToAuthAnotherWay}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(phone.ctx, page.SetSPCTransactionMode, page.SetSPCTransactionModeParams{Mode: page.SetSPCTransactionModeModeAutoAccept})
		op := e.payment(uid, "Alza.cz a.s.", "12.00")
		phone.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		if got := phone.approve(browserPasscode); !strings.HasPrefix(got, "Approved") {
			t.Fatalf("approval: %q", got)
		}
		if typ, _ := clientDataType(t, approvalEvent(t, e, op["id"].(string))); typ != "webauthn.get" {
			t.Fatalf("another way: client data type %q", typ)
		}
	})

	t.Run("without SPC in the browser the page falls back to a passkey assertion", func(t *testing.T) {
		op := e.payment(uid, "Alza.cz a.s.", "99.00")
		opID := op["id"].(string)
		phone.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		phone.eval(`(delete window.PaymentRequest, window.PaymentRequest = undefined, "")`)
		if got := phone.approve(browserPasscode); !strings.HasPrefix(got, "Approved") {
			t.Fatalf("approval: %q", got)
		}
		if typ, _ := clientDataType(t, approvalEvent(t, e, opID)); typ != "webauthn.get" {
			t.Fatalf("fallback client data type %q", typ)
		}
	})
}
