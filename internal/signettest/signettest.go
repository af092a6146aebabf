// Package signettest builds a real Signet core for tests of the packages around it (gateway,
// webhooks, evidence): a migrated store (SQLite, or PostgreSQL when SIGNET_TEST_POSTGRES_URL is
// set and asked for), the keyring, the operation service, users, device keys and approvals.
package signettest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/kek"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay"
)

// Defaults of the tokens a Stack mints.
const (
	Issuer   = "http://localhost:8080"
	Audience = "payments"
	Payee    = "DE89370400440532013000"
)

// Options select the backends.
type Options struct {
	// Postgres runs on a fresh PostgreSQL schema (skips, or fails under
	// SIGNET_TEST_REQUIRE_SERVICES=1, when SIGNET_TEST_POSTGRES_URL is unset).
	Postgres bool
	// Replay records minted JTIs (default: in-process).
	Replay replay.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Stack is the Signet core over a real store.
type Stack struct {
	T       testing.TB
	Store   *sqlstore.Store
	Audit   *audit.Log
	Keyring *txsign.Keyring
	Ops     *txsign.Service
	Replay  replay.Store
	KEK     *kek.Ring
	Now     func() time.Time
}

// New builds a Stack; everything is closed when the test ends.
func New(t testing.TB, o Options) *Stack {
	t.Helper()
	if o.Now == nil {
		o.Now = time.Now
	}
	var st *sqlstore.Store
	if o.Postgres {
		st = sqltest.OpenPostgres(t)
	} else {
		st = sqltest.OpenSQLite(t)
	}
	if o.Replay == nil {
		o.Replay = replay.NewMemory(o.Now)
	}
	ring, err := kek.New([][]byte{bytes.Repeat([]byte{9}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	a := audit.New(st, o.Now, nil)
	keys := txsign.NewKeyring(st, ring, txsign.KeyringConfig{Now: o.Now})
	if err := keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	ops := txsign.NewService(st, a, keys, o.Replay, txsign.Config{Issuer: Issuer, Audience: Audience,
		TokenTTL: 120 * time.Second, PublicURL: Issuer, Now: o.Now})
	return &Stack{T: t, Store: st, Audit: a, Keyring: keys, Ops: ops, Replay: o.Replay, KEK: ring, Now: o.Now}
}

// User creates a user with the bank's id ext.
func (s *Stack) User(ext string) store.User {
	s.T.Helper()
	u := store.User{ID: uuid.NewString(), ExternalID: ext, DisplayName: "Jana Nováková", CreatedAt: s.Now()}
	if err := s.Store.CreateUser(context.Background(), &u); err != nil {
		s.T.Fatal(err)
	}
	return u
}

// Device is a registered device key and its private half.
type Device struct {
	CredentialID string
	Key          *ecdsa.PrivateKey
}

// DeviceKey registers an ACTIVE device key for userID directly in the store.
func (s *Stack) DeviceKey(userID string) Device {
	s.T.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	now := s.Now().UTC()
	c := store.Credential{ID: uuid.NewString(), UserID: userID, Kind: store.KindDeviceKey, Status: store.StatusActive,
		MaxFailedAttempts: 5, Label: "Pixel", PublicKey: der, Device: []byte(`{"platform":"Android","model":"Pixel 9"}`),
		CreatedAt: now, ActivatedAt: &now}
	if err := s.Store.CreateCredential(context.Background(), &c); err != nil {
		s.T.Fatal(err)
	}
	return Device{CredentialID: c.ID, Key: key}
}

// Payment creates a PENDING payment operation to Payee.
func (s *Stack) Payment(userID, amount, currency string, mutate ...func(*txsign.NewOperation)) store.Operation {
	s.T.Helper()
	n := txsign.NewOperation{UserID: userID, Type: "payment", PayeeAccount: Payee, PayeeName: "ACME GmbH",
		Amount: amount, Currency: currency, ExpiresIn: 5 * time.Minute}
	for _, m := range mutate {
		m(&n)
	}
	op, _, err := s.Ops.Create(context.Background(), "bank", n)
	if err != nil {
		s.T.Fatal(err)
	}
	return op
}

// Sign is the device's ECDSA P-256 signature (ASN.1 DER) over SHA-256(msg).
func Sign(key *ecdsa.PrivateKey, msg []byte) []byte {
	h := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	return sig
}

// Decide approves (or rejects) op with the device, as the device API does.
func (s *Stack) Decide(op store.Operation, d Device, decision txsign.Decision) (txsign.Result, error) {
	msg := op.DL
	if decision == txsign.Reject {
		r := txsign.RejectDigest([txsign.DigestSize]byte(op.DL))
		msg = r[:]
	}
	sig := Sign(d.Key, msg)
	return s.Ops.Decide(context.Background(), txsign.Attempt{OperationID: op.ID, CredentialID: d.CredentialID,
		Decision: decision, Actor: "device", Verify: txsign.VerifyDeviceSignature(sig, decision)})
}

// Approve approves op with the device and returns the token.
func (s *Stack) Approve(op store.Operation, d Device) string {
	s.T.Helper()
	res, err := s.Decide(op, d, txsign.Approve)
	if err != nil {
		s.T.Fatalf("approve %s: %v", op.ID, err)
	}
	return res.Token
}

// TokenAMR returns the amr claim (comma-joined) and the acr of a transaction token, read without
// verifying it: the tests that call it check what an approval put in the token, and txsign's and verify's
// tests check the signature.
func TokenAMR(t testing.TB, tok string) (amr, acr string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWS in compact form", tok)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
		ACR string   `json:"acr"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return strings.Join(c.AMR, ","), c.ACR
}
