package account

import "crypto/rand"

// randomHandle returns a WebAuthn user handle: 32 random bytes, never derived
// from the user's identity (WebAuthn L3 §14.6.1 user handle contents).
func randomHandle() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}
