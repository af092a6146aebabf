// Package web holds Signet's hosted browser pages (enrollment and approval),
// their scripts and styles, the JS SDK and the message catalogues the pages and
// the SDK share (i18n/), embedded with go:embed, and the bank's brand. No
// external assets: everything is served from Signet's own origin under a strict CSP.
package web
