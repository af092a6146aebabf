// Package claimsctx carries verified token claims in a context.Context. It is shared by
// txsign/verify's net/http middleware and fiberverify, so that verify.ClaimsFromContext reads
// what either stored, without verify exporting a way for anyone else to store claims.
package claimsctx

import "context"

type key struct{}

// With returns ctx carrying c.
func With[T any](ctx context.Context, c *T) context.Context {
	return context.WithValue(ctx, key{}, c)
}

// From returns the claims With stored in ctx, if any.
func From[T any](ctx context.Context) (*T, bool) {
	c, ok := ctx.Value(key{}).(*T)
	return c, ok && c != nil
}
