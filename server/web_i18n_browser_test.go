package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/web"
	"github.com/signet-sca/signet/webauthn"
)

// The pages in the customer's language and the bank's brand, in headless
// Chromium (see web_browser_test.go): two languages on two viewports, the
// language chosen by ?lang=, the operation's locale and Accept-Language, and
// the wording of each operation type. Screenshots of each state go to
// $SIGNET_TEST_ARTIFACTS when set.

// view sets the tab's viewport, time zone and Accept-Language.
func (tb *tab) view(w, h int64, tz, acceptLanguage string) {
	tb.t.Helper()
	tb.do(chromedp.EmulateViewport(w, h))
	if _, err := chromedp.Call(tb.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: tz}); err != nil {
		tb.t.Fatal(err)
	}
	if acceptLanguage != "" {
		if _, err := chromedp.Call(tb.ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": acceptLanguage}}); err != nil {
			tb.t.Fatal(err)
		}
	}
}

// state audits the page's accessibility as it is now (axe-core) and saves a
// screenshot of it as name.png in $SIGNET_TEST_ARTIFACTS.
func (tb *tab) state(name string) {
	tb.t.Helper()
	tb.audit(name)
	saveScreenshotAs(tb.t, tb, name)
}

// axeSource is axe-core (npm axe-core, axe.min.js) from $SIGNET_TEST_AXE; CI
// installs it (.ci/run). Without it the audit is skipped, unless
// SIGNET_TEST_REQUIRE_SERVICES=1 makes that a failure.
var axeSource = sync.OnceValues(func() (string, error) {
	p := os.Getenv("SIGNET_TEST_AXE")
	if p == "" {
		return "", nil
	}
	b, err := os.ReadFile(p)
	return string(b), err
})

// audit runs axe-core's WCAG 2.x A/AA rules on the page as it is and fails on
// any serious or critical violation (issue 18 §4). axe is injected through
// DevTools, outside the page's CSP; it only reads the DOM.
func (tb *tab) audit(state string) {
	tb.t.Helper()
	src, err := axeSource()
	switch {
	case err != nil:
		tb.t.Fatalf("SIGNET_TEST_AXE: %v", err)
	case src == "" && os.Getenv("SIGNET_TEST_REQUIRE_SERVICES") == "1":
		tb.t.Fatal("no axe-core: set SIGNET_TEST_AXE to axe.min.js (SIGNET_TEST_REQUIRE_SERVICES=1)")
	case src == "":
		return
	}
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";\ntrue")); err != nil {
		tb.t.Fatalf("inject axe: %v", err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" "))}))))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("axe.run: %v", err)
	}
	var violations []struct {
		ID, Impact string
		Nodes      []string
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		tb.t.Fatal(err)
	}
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Errorf("%s: axe %s (%s) on %v", state, v.ID, v.Impact, v.Nodes)
		} else {
			tb.t.Logf("%s: axe %s (%s) on %v", state, v.ID, v.Impact, v.Nodes)
		}
	}
}

// waitText waits until the element's text is want (the page translates after loading its catalogue).
func (tb *tab) waitText(sel, want string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	got := ""
	for time.Now().Before(deadline) {
		if got = strings.TrimSpace(tb.eval(`(document.querySelector(` + jsString(sel) + `) || {}).textContent || ""`)); got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.t.Fatalf("%s shows %q, want %q", sel, got, want)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

func TestBrowserLanguagesAndBrand(t *testing.T) {
	browser := startBrowser(t)
	ln, origin := listen(t)
	png, _ := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/kZ5yJQAAAABJRU5ErkJggg==")
	brand, err := web.LoadBrand(web.BrandConfig{Name: "Horská Banka", Logo: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
		PrimaryColor: "#005a3c", SupportURL: "https://bank.example/help"})
	if err != nil {
		t.Fatal(err)
	}
	e := newWebEnv(t, webEnvOpts{origin: origin, ln: ln, brand: brand, mutate: func(c *webauthn.Config) { c.CeremonyTimeout = 15 * time.Second }})
	users := 0
	// enrolled opens a fresh phone (or desktop) with its own passkey, enrolled in lang.
	enrolled := func(t *testing.T, lang string, w, h int64, tz, accept string) (string, *tab) {
		t.Helper()
		users++
		uid := e.createUser(fmt.Sprintf("lang-%d", users))
		dev := newTab(t, browser)
		dev.view(w, h, tz, accept)
		u, _ := e.enrollmentToken(uid)
		if lang != "" {
			u = withQuery(u, "lang="+lang)
		}
		dev.do(chromedp.Navigate(u), chromedp.WaitVisible(chromedp.ID("register")))
		got := dev.outcome(
			chromedp.SendKeys(chromedp.CSS(`input[name="passcode"]`), browserPasscode),
			chromedp.SendKeys(chromedp.CSS(`input[name="passcode_confirm"]`), browserPasscode),
			chromedp.Click(chromedp.CSS(`#register-form button[type="submit"]`)))
		if want := web.T(web.MatchLocale(lang, accept), "enroll.created"); got != want {
			t.Fatalf("enrollment: %q, want %q", got, want)
		}
		return uid, dev
	}

	for _, v := range []struct {
		name, lang string
		w, h       int64
		tz         string
		amount     string // 1500000 JPY as the language groups it
		zone       string // the expiry's zone as the language names it
	}{
		{"English on a desktop in New York", "en", 1280, 800, "America/New_York", "1,500,000 JPY", "EST"},
		{"German on a phone in Berlin", "de", 390, 844, "Europe/Berlin", "1.500.000 JPY", "MEZ"},
	} {
		t.Run(v.name, func(t *testing.T) {
			uid, dev := enrolled(t, v.lang, v.w, v.h, v.tz, "")
			tag := v.lang + fmt.Sprintf("-%dx%d", v.w, v.h)
			dev.state("enroll-done-" + tag)
			if got, want := dev.eval(`document.title`), web.T(v.lang, "enroll.title")+" · Horská Banka"; got != want {
				t.Fatalf("enrollment tab title %q, want %q", got, want)
			}

			op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "payment",
				"payee": map[string]any{"account": "CZ6508000000192000145399", "name": "Alza.cz a.s."}, "amount": "1500000", "currency": "JPY"})
			dev.do(chromedp.Navigate(withQuery(op["approval_url"].(string), "lang="+v.lang)),
				chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
			dev.waitText("#title", web.T(v.lang, "approve.title.payment"))
			if got, want := dev.eval(`document.title`), web.T(v.lang, "approve.title.payment")+" · Horská Banka"; got != want {
				t.Errorf("tab title %q, want %q", got, want)
			}
			if got := dev.text("#amount"); got != v.amount {
				t.Errorf("amount %q, want %q", got, v.amount)
			}
			if got := dev.text("#payee-account"); got != "CZ65 0800 0000 1920 0014 5399" {
				t.Errorf("account %q", got)
			}
			if got := dev.text("#expires"); !strings.Contains(got, v.zone) || !strings.Contains(got, fmt.Sprint(time.Now().Year())) {
				t.Errorf("expiry %q does not name the zone %s", got, v.zone)
			}
			if got := dev.eval(`document.getElementById("expires").title`); got != v.tz {
				t.Errorf("expiry's zone title %q", got)
			}
			for sel, key := range map[string]string{`#approve`: "approve.approve", `#reject`: "approve.reject", `label[for="passcode"]`: "approve.passcode",
				`#payee-name-row dt`: "approve.payee", `.support a`: "brand.support"} {
				if got := dev.text(sel); got != web.T(v.lang, key) {
					t.Errorf("%s shows %q, want %q", sel, got, web.T(v.lang, key))
				}
			}
			if got := dev.eval(`document.documentElement.lang + "|" + String(document.querySelector("img.logo").naturalWidth) + "|" + getComputedStyle(document.getElementById("approve")).backgroundColor`); got != v.lang+"|1|rgb(0, 90, 60)" {
				t.Errorf("lang|logo width|button colour = %q", got)
			}
			dev.state("approve-" + tag)
			if got := dev.approve(browserPasscode); got != web.T(v.lang, "approve.approved") {
				t.Fatalf("approval: %q", got)
			}
			dev.state("approved-" + tag)
		})
	}

	for _, v := range []struct {
		lang string
		w, h int64
	}{{"en", 1280, 800}, {"cs", 390, 844}} {
		t.Run("weak passcode errors at the field, then the done step ("+v.lang+")", func(t *testing.T) {
			uid := e.createUser("done-" + v.lang)
			dev := newTab(t, browser)
			dev.view(v.w, v.h, "Europe/Prague", "")
			u, _ := e.enrollmentToken(uid)
			dev.do(chromedp.Navigate(withQuery(u, "lang="+v.lang)), chromedp.WaitVisible(chromedp.ID("register")))
			field := func(id string) string {
				return dev.eval(`(() => { const i = document.getElementById("` + id + `"), p = document.getElementById("` + id + `-error");
					return [i.getAttribute("aria-invalid"), i.getAttribute("aria-describedby"), p && !p.hidden ? p.textContent : "", document.activeElement.id].join("|") })()`)
			}
			dev.do(chromedp.SendKeys(chromedp.ID("passcode"), "111111"), chromedp.SendKeys(chromedp.ID("passcode_confirm"), "111111"),
				chromedp.Click(chromedp.ID("create")))
			if got, want := field("passcode"), "true|passcode-error passcode-rules|"+web.T(v.lang, "passcode.repeated")+"|passcode"; got != want {
				t.Fatalf("weak passcode: %q, want %q", got, want)
			}
			dev.state("enroll-weak-passcode-" + v.lang + fmt.Sprintf("-%dx%d", v.w, v.h))
			dev.eval(`(document.getElementById("passcode").value = "", document.getElementById("passcode_confirm").value = "", "")`)
			dev.do(chromedp.SendKeys(chromedp.ID("passcode"), browserPasscode), chromedp.SendKeys(chromedp.ID("passcode_confirm"), "482917"),
				chromedp.Click(chromedp.ID("create")))
			if got, want := field("passcode_confirm"), "true|passcode_confirm-error|"+web.T(v.lang, "enroll.differ")+"|passcode_confirm"; got != want {
				t.Fatalf("mismatch: %q, want %q", got, want)
			}
			if got := field("passcode"); got != "|passcode-rules||passcode_confirm" {
				t.Fatalf("the fixed field keeps its error: %q", got)
			}
			dev.eval(`(document.getElementById("passcode_confirm").value = "", "")`)
			got := dev.outcome(chromedp.SendKeys(chromedp.ID("passcode_confirm"), browserPasscode), chromedp.Click(chromedp.ID("create")))
			if got != web.T(v.lang, "enroll.created") {
				t.Fatalf("enrollment: %q", got)
			}
			if got := dev.eval(`[document.getElementById("done").hidden, document.getElementById("register").hidden, document.activeElement.id, document.getElementById("done-title").textContent].join("|")`); got != "false|true|done|"+web.T(v.lang, "enroll.done_title") {
				t.Fatalf("done step: %q", got)
			}
			dev.state("enroll-done-step-" + v.lang + fmt.Sprintf("-%dx%d", v.w, v.h))
		})
	}

	t.Run("a forgotten passcode: the bank's reset link, the passkey, a new passcode (de, phone)", func(t *testing.T) {
		uid, dev := enrolled(t, "de", 390, 844, "Europe/Berlin", "")
		if _, err := e.st.UpdateUser(t.Context(), uid, func(u *store.User) error { u.PasscodeFailed, u.PasscodeLocked = 3, true; return nil }); err != nil {
			t.Fatal(err)
		}
		link := e.mustDo(201, "POST", "/v1/users/"+uid+"/passcode/reset", "", nil)["url"].(string)
		dev.do(chromedp.Navigate(withQuery(link, "lang=de")), chromedp.WaitVisible(chromedp.ID("reset")))
		if got := dev.eval(`[document.getElementById("register").hidden, document.getElementById("change").hidden, document.getElementById("reset-title").textContent].join("|")`); got != "true|true|"+web.T("de", "enroll.reset_title") {
			t.Fatalf("reset page: %q", got)
		}
		dev.do(chromedp.SendKeys(chromedp.ID("reset_passcode"), "999999"), chromedp.Click(chromedp.ID("reset-submit")))
		if got := dev.eval(`document.getElementById("reset_passcode").getAttribute("aria-invalid") + "|" + document.getElementById("reset_passcode-error").textContent`); got != "true|"+web.T("de", "passcode.repeated") {
			t.Fatalf("weak new passcode: %q", got)
		}
		dev.eval(`(document.getElementById("reset_passcode").value = "", "")`)
		got := dev.outcome(chromedp.SendKeys(chromedp.ID("reset_passcode"), "975319"), chromedp.SendKeys(chromedp.ID("reset_passcode_confirm"), "975319"),
			chromedp.Click(chromedp.ID("reset-submit")))
		if got != web.T("de", "enroll.changed") || dev.eval(`String(document.getElementById("reset-done").hidden)`) != "false" {
			t.Fatalf("reset: %q", got)
		}
		dev.state("reset-done-de-390x844")
		if u := e.mustDo(200, "GET", "/v1/users/"+uid, "", nil); u["passcode_status"] != "SET" {
			t.Fatalf("after the reset: %v", u)
		}
		op := e.payment(uid, "Alza.cz a.s.", "12.00")
		dev.do(chromedp.Navigate(withQuery(op["approval_url"].(string), "lang=de")))
		if got := dev.approve("975319"); got != web.T("de", "approve.approved") {
			t.Fatalf("with the new passcode: %q", got)
		}
	})

	for _, v := range []struct {
		lang string
		w, h int64
	}{{"de", 390, 844}, {"fr", 1280, 800}} {
		t.Run("locked, canceled, expired and not found ("+v.lang+")", func(t *testing.T) {
			uid := e.createUser("states-" + v.lang)
			dev := newTab(t, browser)
			dev.view(v.w, v.h, "Europe/Paris", "")
			tag := fmt.Sprintf("%s-%dx%d", v.lang, v.w, v.h)
			open := func(op map[string]any) string {
				t.Helper()
				dev.do(chromedp.Navigate(withQuery(op["approval_url"].(string), "lang="+v.lang)))
				return dev.settled()
			}
			// A locked passcode: the page shows the locked state, not the form (the user has a
			// passcode verifier set directly: no passkey is needed to see the state).
			if _, err := e.st.UpdateUser(t.Context(), uid, func(u *store.User) error {
				u.PasscodeVerifier, u.PasscodeFailed, u.PasscodeLocked = []byte("v"), 3, true
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got, want := open(e.payment(uid, "Alza.cz a.s.", "1.00")), web.T(v.lang, "error.locked")+" "+web.T(v.lang, "approve.locked_reject"); got != want {
				t.Fatalf("locked: %q, want %q", got, want)
			}
			if got := dev.eval(`String(document.getElementById("passcode-field").hidden)`); got != "true" {
				t.Fatal("the locked page shows the passcode field")
			}
			dev.state("approve-locked-" + tag)
			// The enrollment page of a locked user says so instead of offering forms that would fail.
			u, _ := e.enrollmentToken(uid)
			dev.do(chromedp.Navigate(withQuery(u, "lang="+v.lang)))
			if got := dev.settled(); got != web.T(v.lang, "error.locked") ||
				dev.eval(`[document.getElementById("register").hidden, document.getElementById("change").hidden].join()`) != "true,true" {
				t.Fatalf("enrollment page of a locked user: %q", got)
			}
			dev.state("enroll-locked-" + tag)

			canceled := e.payment(uid, "Alza.cz a.s.", "2.00")
			e.mustDo(200, "POST", "/v1/operations/"+canceled["id"].(string)+"/cancel", "", nil)
			if got := open(canceled); got != web.T(v.lang, "final.CANCELED") {
				t.Fatalf("canceled: %q", got)
			}
			dev.state("approve-canceled-" + tag)

			expired := e.payment(uid, "Alza.cz a.s.", "3.00")
			if _, err := e.st.UpdateOperation(t.Context(), expired["id"].(string), func(o *store.Operation) error {
				o.ExpiresAt = time.Now().Add(-time.Minute).UTC()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if got := open(expired); got != web.T(v.lang, "final.EXPIRED") {
				t.Fatalf("expired: %q", got)
			}
			dev.state("approve-expired-" + tag)

			dev.do(chromedp.Navigate(e.origin + "/web/approve/not-an-id?lang=" + v.lang))
			if got := dev.settled(); got != web.T(v.lang, "approve.not_valid") || dev.eval(`document.title`) != web.T(v.lang, "approve.title.not_found")+" · Horská Banka" {
				t.Fatalf("not found: %q, title %q", got, dev.eval(`document.title`))
			}
			dev.state("approve-not-found-" + tag)
		})
	}

	// The bank cancels, or the operation expires, while the approval page is open: the page
	// shows the final state in its language without a reload, and the approve controls are
	// gone (issue 18 §4; TestBrowser has the English desktop case). On the phone the customer
	// does nothing and the page's own watch shows it; on the desktop the customer presses
	// Approve first, and the refused approval shows it.
	for _, v := range []struct {
		lang, tz string
		w, h     int64
		press    bool
	}{{"de", "Europe/Berlin", 390, 844, false}, {"fr", "Europe/Paris", 1280, 800, true}} {
		t.Run("canceled and expired while the page is open ("+v.lang+")", func(t *testing.T) {
			uid, dev := enrolled(t, v.lang, v.w, v.h, v.tz, "")
			tag := fmt.Sprintf("%s-%dx%d", v.lang, v.w, v.h)
			for _, c := range []struct {
				name   string
				end    func(id string)
				status store.OperationStatus
			}{
				{"canceled", func(id string) { e.mustDo(200, "POST", "/v1/operations/"+id+"/cancel", "", nil) }, store.OpCanceled},
				{"expired", func(id string) {
					if _, err := e.st.UpdateOperation(t.Context(), id, func(o *store.Operation) error {
						o.ExpiresAt = time.Now().Add(-time.Minute).UTC()
						return nil
					}); err != nil {
						t.Fatal(err)
					}
				}, ""},
			} {
				op := e.payment(uid, "Alza.cz a.s.", "4.00")
				id := op["id"].(string)
				dev.do(chromedp.Navigate(withQuery(op["approval_url"].(string), "lang="+v.lang)),
					chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
				dev.waitText("#approve", web.T(v.lang, "approve.approve"))
				c.end(id)
				want := web.T(v.lang, "final."+strings.ToUpper(c.name))
				if v.press {
					// Typed and submitted by script: the page's watch may hide the form first, and
					// the refused approval must then show the same final state.
					dev.eval(`document.getElementById("passcode").value = ` + jsString(browserPasscode) +
						`; document.getElementById("approve-form").requestSubmit(); ""`)
				}
				dev.waitText("#status", want) // no reload
				if got := dev.eval(`[document.getElementById("approve-form").hidden, document.getElementById("approve").checkVisibility(),
					document.getElementById("passcode").checkVisibility(), document.getElementById("reject").checkVisibility()].join()`); got != "true,false,false,false" {
					t.Fatalf("%s while open: form hidden, approve, passcode, reject visible = %s", c.name, got)
				}
				if o := e.operation(t, id); o.Token != "" || (c.status != "" && o.Status != c.status) {
					t.Fatalf("%s while open: operation %s token %q", c.name, o.Status, o.Token)
				}
				dev.state("approve-" + c.name + "-while-open-" + tag)
			}
		})
	}

	t.Run("the operation's locale speaks Czech to an English browser; a rejected sign-in pays nothing", func(t *testing.T) {
		uid, dev := enrolled(t, "", 390, 844, "Europe/Prague", "en-US,en;q=0.9")
		op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login", "locale": "cs-CZ"})
		dev.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		dev.waitText("#title", "Potvrzení přihlášení")
		if got := dev.text("#approve") + "|" + dev.eval(`document.documentElement.lang`); got != "Schválit|cs" {
			t.Errorf("button|lang %q", got)
		}
		if dev.eval(`String(document.getElementById("amount-row").hidden)`) != "true" {
			t.Error("a sign-in shows an amount row")
		}
		dev.state("approve-login-cs-390x844")
		// Czech plural forms come from Intl.PluralRules: 2 is "few" (pokusy), not "other" (pokusů).
		if got := dev.approve("135790"); !strings.HasSuffix(got, "Zbývají 2 pokusy, než se kód zablokuje.") {
			t.Fatalf("wrong passcode: %q", got)
		}
		dev.state("wrong-passcode-cs-390x844")
		got := dev.outcome(chromedp.Click(chromedp.CSS(`button[name="reject"]`)))
		if got != web.T("cs", "approve.rejected.login") || strings.Contains(got, "zaplaceno") {
			t.Fatalf("reject: %q", got)
		}
		dev.state("rejected-login-cs-390x844")
	})

	t.Run("?lang= beats the operation's locale; a rejected new payee pays nothing", func(t *testing.T) {
		uid, dev := enrolled(t, "es", 1280, 800, "Europe/Madrid", "")
		op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "beneficiary_add", "locale": "cs",
			"payee": map[string]any{"account": "ES9121000418450200051332", "name": "Fontanería García"}})
		dev.do(chromedp.Navigate(withQuery(op["approval_url"].(string), "lang=es")), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		dev.waitText("#title", "Confirmar nuevo beneficiario")
		if got := dev.text("#payee-account"); got != "ES91 2100 0418 4502 0005 1332" {
			t.Errorf("account %q", got)
		}
		got := dev.outcome(chromedp.Click(chromedp.CSS(`button[name="reject"]`)))
		if got != "Rechazado. No se ha añadido el beneficiario." {
			t.Fatalf("reject: %q", got)
		}
		dev.state("rejected-beneficiary-es-1280x800")
	})

	t.Run("Accept-Language decides when nothing else does", func(t *testing.T) {
		uid, dev := enrolled(t, "", 390, 844, "Europe/Paris", "fr-FR,fr;q=0.9")
		op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "payment",
			"payee": map[string]any{"account": "FR1420041010050500013M02606", "name": "Boulangerie Dupont"}, "amount": "1234.5", "currency": "EUR"})
		dev.do(chromedp.Navigate(op["approval_url"].(string)), chromedp.WaitVisible(chromedp.CSS(`input[name="passcode"]`)))
		dev.waitText("#title", "Confirmer le paiement")
		if got := dev.text("#amount"); got != "1\u202f234,50 EUR" {
			t.Errorf("amount %q", got)
		}
		if got, want := dev.approve("135790"), web.T("fr", "error.approve_failed")+" "+web.T("fr", "approve.tries_left.other", "n", "2"); got != want {
			t.Fatalf("wrong passcode: %q", got)
		}
		dev.state("wrong-passcode-fr-390x844")
	})
}
