package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"path"
	"strings"
	"sync"
)

//go:embed templates/*.html static/* sdk/* i18n/*.json
var files embed.FS

// ContentSecurityPolicy is sent with every page: scripts, styles and fetches
// from Signet's own origin only, no inline script or style, no framing, no
// plugins, and Trusted Types so that no string can reach an HTML sink.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Asset returns an embedded static file ("static/app.css", "sdk/signet.js",
// "i18n/de.json") and its content type.
func Asset(name string) ([]byte, string, bool) {
	name = path.Clean(name)
	if !(strings.HasPrefix(name, "static/") || strings.HasPrefix(name, "sdk/") || strings.HasPrefix(name, "i18n/")) || strings.Contains(name, "..") {
		return nil, "", false
	}
	b, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, "", false
	}
	ct := "application/octet-stream"
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".json":
		ct = "application/json; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".png":
		ct = "image/png"
	}
	return b, ct, true
}

var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").ParseFS(files, "templates/*.html"))
})

// Page is what every page shares: its language (a catalogue, MatchLocale)
// and the bank's brand.
type Page struct {
	Lang  string
	Brand Brand
}

// T is the page's message for key (templates: {{.T "approve.payee"}}).
func (p Page) T(key string, args ...string) string { return T(p.Lang, key, args...) }

// Approval is the approval page's shell. It carries no operation data: the
// page's script loads the operation through the browser API with the
// capability from the URL fragment, so the page URL alone shows nothing and
// the shell is the same for every operation id.
type Approval struct {
	Page
	// LangFixed: the language came from ?lang=, so the operation's locale
	// does not override it (the order is ?lang=, the operation's locale,
	// Accept-Language).
	LangFixed bool
	// ReturnURL is an allow-listed return_url (empty when none was given or
	// it is not allowed); OpenerOrigins the origins to postMessage to.
	ReturnURL     string
	OpenerOrigins []string
	// NotFound renders the "no such approval" variant (a malformed id).
	NotFound bool
}

// TitleKey is the heading's message until the script knows the operation's type.
func (a Approval) TitleKey() string {
	if a.NotFound {
		return "approve.title.not_found"
	}
	return "approve.title.request"
}

// MessageKey is the status line the shell starts with.
func (a Approval) MessageKey() string {
	if a.NotFound {
		return "approve.not_valid"
	}
	return "approve.loading"
}

// OpenerOriginsJSON is the opener allow-list for a data attribute.
func (a Approval) OpenerOriginsJSON() string {
	b, _ := json.Marshal(append([]string{}, a.OpenerOrigins...))
	return string(b)
}

// Enroll is what the enrollment page needs (the secret arrives in the URL
// fragment and never reaches the server with the page request).
type Enroll struct {
	Page
}

// RenderApproval writes the approval page.
func RenderApproval(w io.Writer, a Approval) error { return render(w, "approve.html", a) }

// RenderEnroll writes the enrollment page.
func RenderEnroll(w io.Writer, e Enroll) error { return render(w, "enroll.html", e) }

func render(w io.Writer, name string, data any) error {
	var buf bytes.Buffer
	if err := templates().ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
