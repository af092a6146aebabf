// Package webauthn is Signet's web-native signing: passkey ceremonies over
// go-webauthn, hardened (exact origins, enforced timeouts, single-use server-side
// ceremony state, unique credential ids, clone detection, per-assertion UV), and
// the passcode knowledge factor (HPKE from the browser, peppered Argon2id verifier).
package webauthn
