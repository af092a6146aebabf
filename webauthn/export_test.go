package webauthn

import "context"

// SetHook makes every hash run f while it holds its slot (tests only).
func (g *Argon2Gate) SetHook(f func()) { g.hook = f }

// Acquire takes a hashing slot as a request does (tests only).
func (g *Argon2Gate) Acquire(ctx context.Context) (func(), error) { return g.acquire(ctx) }
