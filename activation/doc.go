// Package activation runs PowerAuth 3.x activations over the one credential store: applications and their
// master keys, the activation lifecycle (init, key exchange, commit, expiry), signature, MAC-token, vault and
// temporary-key services for the /pa/v3 device API, and mobile-token and offline operation approval.
package activation
