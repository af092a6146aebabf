package server_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/signet-sca/signet/web"
)

// TestWebPageLanguage: the server renders a page in the language of ?lang=
// (when a catalogue matches it), else of Accept-Language, else English; the
// operation's locale reaches the page through the browser API only.
func TestWebPageLanguage(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("i18n")
	for _, tc := range []struct {
		name, path, accept string
		wantLang, want     string
		fixed              bool
	}{
		{"no preference: English", "/web/enroll", "", "en", "Set up secure approval", false},
		{"Accept-Language German", "/web/enroll", "de-AT,de;q=0.9,en;q=0.5", "de", "Sichere Freigabe einrichten", false},
		{"Accept-Language unsupported only: English", "/web/enroll", "ja,zh;q=0.5", "en", "Set up secure approval", false},
		{"?lang= beats Accept-Language", "/web/enroll?lang=cs", "de", "cs", "Nastavení bezpečného schvalování", false},
		{"unsupported ?lang= falls back to Accept-Language", "/web/approve/00000000-0000-4000-8000-000000000000?lang=pt", "es", "es", "Confirmar solicitud", false},
		{"approval shell in French, language fixed by ?lang=", "/web/approve/00000000-0000-4000-8000-000000000000?lang=fr", "de", "fr", "Confirmer la demande", true},
		{"approval shell by Accept-Language is not fixed", "/web/approve/00000000-0000-4000-8000-000000000000", "cs", "cs", "Potvrzení požadavku", false},
		{"malformed id in Spanish", "/web/approve/nope?lang=es", "", "es", "Este enlace de aprobación no es válido", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.accept != "" {
				hdr = []string{"Accept-Language", tc.accept}
			}
			r := e.do("GET", tc.path, "-", nil, hdr...)
			page := string(r.body)
			if !strings.Contains(page, `<html lang="`+tc.wantLang+`">`) || !strings.Contains(page, tc.want) {
				t.Fatalf("want lang %s and %q:\n%s", tc.wantLang, tc.want, page)
			}
			if !strings.Contains(r.header.Get("Vary"), "Accept-Language") {
				t.Errorf("Vary %q", r.header.Get("Vary"))
			}
			if strings.Contains(tc.path, "/approve/0") {
				if got := strings.Contains(page, `data-lang-fixed="true"`); got != tc.fixed {
					t.Errorf("language fixed %v, want %v", got, tc.fixed)
				}
			}
			if strings.Contains(page, "· Signet") {
				t.Error("the neutral page names Signet in its title")
			}
		})
	}

	t.Run("the operation's locale: validated, stored canonical, matched for the page", func(t *testing.T) {
		r := e.do("POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login", "locale": "not a tag!"})
		if r.status != 400 || !strings.Contains(string(r.body), "locale") {
			t.Fatalf("bad locale: %d %s", r.status, r.body)
		}
		for _, tc := range []struct{ given, stored, page string }{
			{"de-at", "de-AT", "de"},
			{"cs", "cs", "cs"},
			{"pt-BR", "pt-BR", ""}, // no catalogue: the page falls back to Accept-Language
			{"", "", ""},
		} {
			body := map[string]any{"user_id": uid, "type": "login"}
			if tc.given != "" {
				body["locale"] = tc.given
			}
			op := e.mustDo(201, "POST", "/v1/operations", "", body)
			if got, _ := op["locale"].(string); got != tc.stored {
				t.Errorf("%q stored as %q, want %q", tc.given, got, tc.stored)
			}
			id := op["id"].(string)
			if got, _ := e.mustDo(200, "GET", "/v1/operations/"+id, "", nil)["locale"].(string); got != tc.stored {
				t.Errorf("%q read back as %q", tc.given, got)
			}
			if got, _ := e.mustDo(200, "GET", "/v1/web/operations/"+id, e.capAuth(id), nil)["locale"].(string); got != tc.page {
				t.Errorf("%q: the page gets locale %q, want %q", tc.given, got, tc.page)
			}
		}
	})

	t.Run("catalogues are served to the pages and the SDK", func(t *testing.T) {
		for _, l := range web.Locales {
			r := e.do("GET", "/web/i18n/"+l+".json", "-", nil)
			if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") ||
				r.header.Get("Access-Control-Allow-Origin") != "*" {
				t.Fatalf("%s: %d %v", l, r.status, r.header)
			}
			if m := r.json(t); m["approve.approve"] != web.T(l, "approve.approve") {
				t.Fatalf("%s: %v", l, m["approve.approve"])
			}
		}
		if r := e.do("GET", "/web/i18n/xx.json", "-", nil); r.status != 404 {
			t.Fatalf("unknown catalogue: %d", r.status)
		}
	})
}

// TestWebBrand: the configured brand names the tab and the page, shows the
// logo (served from Signet's origin under the CSP), colours the page through
// a stylesheet and links the bank's support; the neutral default has none of it.
func TestWebBrand(t *testing.T) {
	png, _ := base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/kZ5yJQAAAABJRU5ErkJggg==")
	brand, err := web.LoadBrand(web.BrandConfig{Name: "Horská Banka", Logo: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
		PrimaryColor: "#005a3c", BackgroundColor: "#eef3f1", SupportURL: "https://bank.example/help"})
	if err != nil {
		t.Fatal(err)
	}
	e := newWebEnv(t, webEnvOpts{brand: brand})
	for _, path := range []string{"/web/enroll", "/web/approve/00000000-0000-4000-8000-000000000000", "/web/approve/bad-id"} {
		page := string(e.do("GET", path, "-", nil, "Accept-Language", "cs").body)
		for _, want := range []string{" · Horská Banka</title>", `<img class="logo" src="/web/brand/logo" alt="Horská Banka">`,
			`<link rel="stylesheet" href="/web/brand.css">`, `data-brand="Horská Banka"`,
			`<a href="https://bank.example/help" rel="noopener noreferrer" target="_blank" data-i18n="brand.support">Nápověda a podpora</a>`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	r := e.do("GET", "/web/brand/logo", "-", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "image/png" || string(r.body) != string(png) ||
		r.header.Get("Content-Security-Policy") != web.ContentSecurityPolicy || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("logo: %d %v", r.status, r.header)
	}
	r = e.do("GET", "/web/brand.css", "-", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/css") || !strings.Contains(string(r.body), "--primary: #005a3c;") {
		t.Fatalf("brand.css: %d %s", r.status, r.body)
	}

	neutral := newWebEnv(t, webEnvOpts{})
	page := string(neutral.do("GET", "/web/enroll", "-", nil).body)
	for _, absent := range []string{"brand.css", "/web/brand/logo", `class="support"`, "·"} {
		if strings.Contains(page, absent) {
			t.Errorf("neutral page has %q", absent)
		}
	}
	if r := neutral.do("GET", "/web/brand/logo", "-", nil); r.status != 404 {
		t.Errorf("neutral logo: %d", r.status)
	}
}

// TestWebPasscodeState: the bank reads passcode_status and tries left on the user resource; the
// approval page reads the same on a PENDING operation only. (SET and LOCKED: TestBrowser's lock subtest.)
func TestWebPasscodeState(t *testing.T) {
	e := newWebEnv(t, webEnvOpts{})
	uid := e.createUser("passcode-state")
	if u := e.mustDo(200, "GET", "/v1/users/"+uid, "", nil); u["passcode_status"] != "NOT_SET" || u["passcode_tries_left"] != float64(0) {
		t.Fatalf("user %v", u)
	}
	op := e.mustDo(201, "POST", "/v1/operations", "", map[string]any{"user_id": uid, "type": "login"})
	id := op["id"].(string)
	pc, _ := e.mustDo(200, "GET", "/v1/web/operations/"+id, e.capAuth(id), nil)["passcode"].(map[string]any)
	if pc["status"] != "NOT_SET" {
		t.Fatalf("pending operation's passcode %v", pc)
	}
	e.mustDo(200, "POST", "/v1/operations/"+id+"/cancel", "", nil)
	if v := e.mustDo(200, "GET", "/v1/web/operations/"+id, e.capAuth(id), nil); v["passcode"] != nil {
		t.Fatalf("a decided operation still tells the passcode state: %v", v)
	}
}
