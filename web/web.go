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
	"time"
)

//go:embed templates/*.html static/* sdk/*
var files embed.FS

// ContentSecurityPolicy is sent with every page: scripts, styles and fetches
// from Signet's own origin only, no inline script or style, no framing, no
// plugins, and Trusted Types so that no string can reach an HTML sink.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; " +
	"require-trusted-types-for 'script'; trusted-types 'none'"

// Asset returns an embedded static file ("static/app.css", "sdk/signet.js")
// and its content type.
func Asset(name string) ([]byte, string, bool) {
	name = path.Clean(name)
	if !(strings.HasPrefix(name, "static/") || strings.HasPrefix(name, "sdk/")) || strings.Contains(name, "..") {
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
	case ".html":
		ct = "text/html; charset=utf-8"
	}
	return b, ct, true
}

var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"human":   func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	}).ParseFS(files, "templates/*.html"))
})

// Approval is what the approval page shows: the operation as Signet stored
// it, never anything taken from the URL.
type Approval struct {
	OperationID  string
	Status       string
	Type         string
	PayeeName    string
	PayeeAccount string
	Amount       string
	Currency     string
	Text         string
	ExpiresAt    time.Time
	// ReturnURL is an allow-listed return_url (empty when none was given or
	// it is not allowed); OpenerOrigins the origins to postMessage to.
	ReturnURL     string
	OpenerOrigins []string
	// NotFound renders the "no such approval" variant.
	NotFound bool
}

// Pending reports whether the operation can still be decided.
func (a Approval) Pending() bool { return a.Status == "PENDING" }

// Title is the page heading.
func (a Approval) Title() string {
	switch {
	case a.NotFound:
		return "Approval not found"
	case a.Type == "payment":
		return "Confirm payment"
	case a.Type == "login":
		return "Confirm sign-in"
	}
	return "Confirm request"
}

// Message says plainly why an operation can no longer be decided.
func (a Approval) Message() string {
	if a.NotFound {
		return "This approval link is not valid. Please return to your bank and start again."
	}
	switch a.Status {
	case "APPROVED":
		return "This request has already been approved."
	case "REJECTED":
		return "This request was rejected."
	case "CANCELED":
		return "This request was canceled by your bank."
	case "EXPIRED":
		return "This request has expired. Please start again from your bank."
	case "FAILED":
		return "This request was blocked after too many failed attempts."
	}
	return ""
}

// OpenerOriginsJSON is the opener allow-list for a data attribute.
func (a Approval) OpenerOriginsJSON() string {
	b, _ := json.Marshal(append([]string{}, a.OpenerOrigins...))
	return string(b)
}

// Enroll is what the enrollment page needs (the secret arrives in the URL
// fragment and never reaches the server with the page request).
type Enroll struct{}

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
