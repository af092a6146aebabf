// Package web holds Signet's hosted browser pages (enrollment and approval),
// their scripts and styles, and the JS SDK, embedded with go:embed. No external
// assets: everything is served from Signet's own origin under a strict CSP.
package web
