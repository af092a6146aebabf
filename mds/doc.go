// Package mds reads a FIDO Metadata Service (MDS3) BLOB the bank configures:
// it verifies the BLOB's signature to the FIDO root (or the bank's), and
// answers which authenticator models (AAGUIDs) may prove user verification.
package mds
