package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/server"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/replay/redisreplay"
	"github.com/signet-sca/signet/txsign/verify"
)

type device struct {
	credID string
	key    *ecdsa.PrivateKey
}

func jwkOf(pub *ecdsa.PublicKey) map[string]string {
	raw, _ := pub.Bytes()
	return map[string]string{"kty": "EC", "crv": "P-256",
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]), "y": base64.RawURLEncoding.EncodeToString(raw[33:])}
}

func (h *harness) registrationCode(userID string) string {
	h.t.Helper()
	r := h.do("POST", "/v1/users/"+userID+"/registration-codes", "", nil)
	if r.status != 201 {
		h.t.Fatalf("registration code: %d %s", r.status, r.body)
	}
	return r.json(h.t)["code"].(string)
}

func (h *harness) newDevice(userID string) device {
	h.t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	r := h.do("POST", "/v1/devices", "-", map[string]any{"registration_code": h.registrationCode(userID),
		"public_key": jwkOf(&key.PublicKey), "label": "Pixel", "platform": "Android", "model": "Pixel 9",
		"os_version": "16", "app_version": "1.2.3"})
	if r.status != 201 || r.json(h.t)["status"] != "ACTIVE" || r.json(h.t)["user_id"] != userID {
		h.t.Fatalf("register device: %d %s", r.status, r.body)
	}
	return device{credID: r.json(h.t)["credential_id"].(string), key: key}
}

type opView struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Type     string `json:"type"`
	Payee    struct{ Account, Name string }
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
	Nonce    string `json:"nonce"`
	DL       string `json:"dl"`
	Expires  string `json:"expires_at"`
	Token    string `json:"token"`
}

func (h *harness) createOp(userID, amount, currency string, extra map[string]any) opView {
	h.t.Helper()
	body := map[string]any{"user_id": userID, "type": "payment", "amount": amount, "currency": currency,
		"payee": map[string]string{"account": "DE89 3704 0044 0532 0130 00", "name": "ACME GmbH"}}
	for k, v := range extra {
		body[k] = v
	}
	r := h.do("POST", "/v1/operations", "", body)
	if r.status != 201 {
		h.t.Fatalf("create op: %d %s", r.status, r.body)
	}
	var op opView
	json.Unmarshal(r.body, &op)
	return op
}

// signingData fetches the signing data and recomputes DL on the device side,
// as a real app must before it signs.
func (h *harness) signingData(opID string, d device) [32]byte {
	h.t.Helper()
	r := h.do("GET", "/v1/operations/"+opID+"/signing-data?credential_id="+d.credID, h.capAuth(opID), nil)
	if r.status != 200 {
		h.t.Fatalf("signing data: %d %s", r.status, r.body)
	}
	var op opView
	json.Unmarshal(r.body, &op)
	exp, _ := time.Parse(time.RFC3339, op.Expires)
	dl := txsign.ComputeDL(txsign.DLInput{ID: op.ID, Type: op.Type, PayeeAccount: op.Payee.Account, PayeeName: op.Payee.Name,
		Amount: op.Amount, Currency: op.Currency, Nonce: op.Nonce, ExpiresAt: exp})
	if txsign.EncodeDigest(dl) != op.DL {
		h.t.Fatalf("device-side DL %s != server DL %s", txsign.EncodeDigest(dl), op.DL)
	}
	return dl
}

// capAuth is the Authorization header with operation opID's capability, as
// the bank's push hands it to the app.
func (h *harness) capAuth(opID string) string {
	return "Signet-Capability " + h.ops.Capability(opID)
}

func sign(key *ecdsa.PrivateKey, msg []byte) string {
	h := sha256.Sum256(msg)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	return base64.RawURLEncoding.EncodeToString(sig)
}

func (h *harness) approve(opID string, d device, sig string) response {
	h.t.Helper()
	return h.do("POST", "/v1/operations/"+opID+"/approve", h.capAuth(opID), map[string]any{"credential_id": d.credID, "signature": sig})
}

func (h *harness) verifier(t testing.TB, rp verify.Consumer) *verify.Verifier {
	jwks, err := verify.NewJWKS("http://"+h.addr+"/.well-known/jwks.json", verify.AllowHTTP())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(verify.Config{Keys: jwks, Issuer: testIssuer, Audience: testAudience, Replay: rp})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (h *harness) auditFor(opID string) []store.AuditEvent {
	evs, _, _ := h.store.ListAudit(context.Background(), store.AuditFilter{OperationID: opID, Limit: 1000})
	return evs
}

func TestDeviceKeyApprovalEndToEnd(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-dk")
	d := h.newDevice(uid)
	op := h.createOp(uid, "100", "EUR", nil)
	if op.Amount != "100.00" || op.Status != "PENDING" || op.Payee.Account != "DE89370400440532013000" {
		t.Fatalf("op %+v", op)
	}
	dl := h.signingData(op.ID, d)
	r := h.approve(op.ID, d, sign(d.key, dl[:]))
	if r.status != 200 || r.json(t)["status"] != "APPROVED" {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	token := r.json(t)["token"].(string)

	// The bank reads the same token again (a lost response strands nothing).
	g := h.do("GET", "/v1/operations/"+op.ID, "", nil)
	if g.json(t)["token"] != token || g.json(t)["status"] != "APPROVED" {
		t.Fatalf("get: %s", g.body)
	}
	// A gateway verifies locally with the JWKS and the request binding.
	claims, err := h.verifier(t, nil).Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Op != op.ID || claims.DL != op.DL || claims.Subject != "cust-dk" || len(claims.AMR) == 0 ||
		claims.AuthorizationDetails[0].InstructedAmount.Amount != "100.00" {
		t.Fatalf("claims %+v", claims)
	}
	if err := claims.CheckBinding(verify.Binding{Amount: "100.00", Currency: "EUR", PayeeAccount: "DE89370400440532013000"}); err != nil {
		t.Fatal(err)
	}
	if err := claims.CheckBinding(verify.Binding{Amount: "100.01", Currency: "EUR", PayeeAccount: "DE89370400440532013000"}); err == nil {
		t.Fatal("binding must refuse another amount")
	}
	// Consume through Signet: once 200, then 409.
	if c := h.do("POST", "/v1/tokens/consume", "", map[string]string{"token": token}); c.status != 200 {
		t.Fatalf("consume: %d %s", c.status, c.body)
	}
	if c := h.do("POST", "/v1/tokens/consume", "", map[string]string{"token": token}); c.status != 409 {
		t.Fatalf("second consume: %d %s", c.status, c.body)
	}
	// The approval is audited with the evidence to re-verify it.
	var found bool
	for _, e := range h.auditFor(op.ID) {
		if e.Type == "operation.approve" && e.Outcome == "success" {
			var ev txsign.Evidence
			json.Unmarshal(e.Evidence, &ev)
			found = ev.Signature != "" && ev.PublicKey != "" && ev.DL == op.DL && ev.Signed != ""
		}
	}
	if !found {
		t.Fatal("no success audit with evidence")
	}
	// The device key is listed with the user's credentials.
	l := h.do("GET", "/v1/users/"+uid+"/credentials", "", nil)
	if !strings.Contains(string(l.body), `"kind":"device_key"`) || !strings.Contains(string(l.body), `"platform":"Android"`) {
		t.Fatalf("credentials: %s", l.body)
	}
}

func TestDeviceKeyReject(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-rj")
	d := h.newDevice(uid)
	op := h.createOp(uid, "5", "EUR", nil)
	dl := h.signingData(op.ID, d)
	// An approval signature is not a rejection signature.
	r := h.do("POST", "/v1/operations/"+op.ID+"/reject", h.capAuth(op.ID), map[string]any{"credential_id": d.credID, "signature": sign(d.key, dl[:])})
	if r.status != 401 {
		t.Fatalf("approve-signature used to reject: %d %s", r.status, r.body)
	}
	rd := txsign.RejectDigest(dl)
	r = h.do("POST", "/v1/operations/"+op.ID+"/reject", h.capAuth(op.ID), map[string]any{"credential_id": d.credID, "signature": sign(d.key, rd[:])})
	if r.status != 200 || r.json(t)["status"] != "REJECTED" || r.json(t)["token"] != nil {
		t.Fatalf("reject: %d %s", r.status, r.body)
	}
}

func TestDeviceKeyAttacks(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	uid := h.createUser("victim")
	other := h.createUser("mallory")
	d := h.newDevice(uid)
	mallory := h.newDevice(other)

	// dlOf signs what a tampered operation would hash to.
	dlOf := func(op opView, mutate func(*txsign.DLInput)) []byte {
		exp, _ := time.Parse(time.RFC3339, op.Expires)
		in := txsign.DLInput{ID: op.ID, Type: op.Type, PayeeAccount: op.Payee.Account, PayeeName: op.Payee.Name,
			Amount: op.Amount, Currency: op.Currency, Nonce: op.Nonce, ExpiresAt: exp}
		mutate(&in)
		dl := txsign.ComputeDL(in)
		return dl[:]
	}
	otherOp := h.createOp(uid, "1", "EUR", nil)
	// Every case signs with a fresh device of the victim, or with Mallory's. Each refusal must be
	// audited for its own reason; the last row signs the unmodified digest through the same
	// helper and must be accepted, so a broken helper cannot pass the table.
	const badSig = "possession not proven: signature does not verify"
	tests := []struct {
		name    string
		mallory bool
		sig     func(op opView, key *ecdsa.PrivateKey) string
		status  int
		outcome string // audited outcome; "" = no attempt reaches the audit log (malformed input)
		reason  string
	}{
		{"amount +0.01", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(i *txsign.DLInput) { i.Amount = "100.01" }))
		}, 401, audit.Unverified, badSig},
		{"another payee", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(i *txsign.DLInput) { i.PayeeAccount = "GB82WEST12345698765432" }))
		}, 401, audit.Unverified, badSig},
		{"another payee name", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(i *txsign.DLInput) { i.PayeeName = "ACME GmbH." }))
		}, 401, audit.Unverified, badSig},
		{"another currency", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(i *txsign.DLInput) { i.Currency = "USD" }))
		}, 401, audit.Unverified, badSig},
		{"swapped operation id", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(i *txsign.DLInput) { i.ID = otherOp.ID }))
		}, 401, audit.Unverified, badSig},
		{"signature of another operation", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, h.signingDataNoCheck(otherOp.ID))
		}, 401, audit.Unverified, badSig},
		{"another user's device key", true, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(*txsign.DLInput) {}))
		}, 401, audit.Unverified, "credential belongs to another user"},
		{"malformed signature", false, func(opView, *ecdsa.PrivateKey) string { return "!!not-base64!!" }, 400, "", ""},
		{"garbage DER", false, func(opView, *ecdsa.PrivateKey) string {
			return base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef"))
		}, 401, audit.Unverified, badSig},
		{"control: the unmodified digest is accepted", false, func(op opView, k *ecdsa.PrivateKey) string {
			return sign(k, dlOf(op, func(*txsign.DLInput) {}))
		}, 200, audit.Success, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dev := mallory
			if !tc.mallory {
				dev = h.newDevice(uid)
			}
			op := h.createOp(uid, "100", "EUR", nil)
			before := len(h.auditFor(op.ID))
			r := h.approve(op.ID, dev, tc.sig(op, dev.key))
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			stored, _ := h.store.GetOperation(ctx, op.ID)
			if tc.status == 200 {
				if stored.Status != store.OpApproved || stored.Token == "" {
					t.Fatalf("control not approved: %+v", stored)
				}
			} else if stored.Status != store.OpPending || stored.Token != "" {
				t.Fatalf("operation changed: %+v", stored)
			}
			evs := h.auditFor(op.ID)
			if tc.outcome == "" {
				if len(evs) != before {
					t.Fatalf("malformed input audited as an attempt: %+v", evs[before:])
				}
				return
			}
			var attempt *store.AuditEvent
			for i := range evs[before:] {
				if e := &evs[before+i]; e.CredentialID == dev.credID {
					attempt = e
				}
			}
			if attempt == nil {
				t.Fatalf("no audit record of the attempt among %+v", evs[before:])
			}
			if attempt.Outcome != tc.outcome || attempt.Reason != tc.reason {
				t.Fatalf("audited %s %q, want %s %q", attempt.Outcome, attempt.Reason, tc.outcome, tc.reason)
			}
		})
	}

	// Issue 13 item 2: an ECDSA signature that does not verify under the device key proves nothing
	// about the user; anyone who knows an operation id and a credential id can send one. Twenty
	// forgeries neither fail the operation nor block the key; each is audited as unverified.
	t.Run("forged signatures count nothing", func(t *testing.T) {
		dev := h.newDevice(uid)
		op := h.createOp(uid, "100", "EUR", nil)
		stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		forgeries := []struct {
			name string
			as   device
			sig  func() string
		}{
			{"the device's key over other bytes", dev, func() string { return sign(dev.key, []byte("not the DL")) }},
			{"another key over the DL", dev, func() string { return sign(stranger, h.signingDataNoCheck(op.ID)) }},
			{"garbage DER", dev, func() string { return base64.RawURLEncoding.EncodeToString([]byte("0123456789abcdef")) }},
			{"another user's valid signature", mallory, func() string { return sign(mallory.key, h.signingDataNoCheck(op.ID)) }},
		}
		for i := range 20 {
			f := forgeries[i%len(forgeries)]
			if r := h.approve(op.ID, f.as, f.sig()); r.status != 401 {
				t.Fatalf("%s: %d %s", f.name, r.status, r.body)
			}
			evs := h.auditFor(op.ID)
			if last := evs[len(evs)-1]; last.Outcome != "unverified" || last.Reason == "" {
				t.Fatalf("%s: audited %s %q, want unverified", f.name, last.Outcome, last.Reason)
			}
		}
		g := h.do("GET", "/v1/operations/"+op.ID, "", nil).json(t)
		if g["status"] != "PENDING" || g["failed_attempts"] != float64(0) {
			t.Fatalf("after 20 forgeries: %v with %v failed attempts, want PENDING with 0", g["status"], g["failed_attempts"])
		}
		c, _ := h.store.GetCredential(ctx, dev.credID)
		if c.Status != store.StatusActive || c.FailedAttempts != 0 {
			t.Fatalf("device key %s %s with %d failures after forgeries, want ACTIVE with 0", c.Status, c.BlockReason, c.FailedAttempts)
		}
		if r := h.approve(op.ID, dev, sign(dev.key, h.signingDataNoCheck(op.ID))); r.status != 200 || r.json(t)["status"] != "APPROVED" {
			t.Fatalf("the genuine device after forgeries: %d %s", r.status, r.body)
		}
	})

	t.Run("blocked and removed credentials cannot sign", func(t *testing.T) {
		for _, action := range []string{"block", "remove"} {
			dev := h.newDevice(uid)
			if action == "block" {
				h.do("POST", "/v1/credentials/"+dev.credID+"/block", "", map[string]string{"reason": "LOST_DEVICE"})
			} else {
				h.do("DELETE", "/v1/credentials/"+dev.credID, "", nil)
			}
			op := h.createOp(uid, "100", "EUR", nil)
			dl := h.signingDataNoCheck(op.ID)
			if r := h.approve(op.ID, dev, sign(dev.key, dl)); r.status != 401 {
				t.Fatalf("%s: %d %s", action, r.status, r.body)
			}
			if r := h.do("GET", "/v1/operations/"+op.ID+"/signing-data?credential_id="+dev.credID, h.capAuth(op.ID), nil); r.status != 401 {
				t.Fatalf("%s signing-data: %d", action, r.status)
			}
		}
	})

	t.Run("canceled, already approved operations", func(t *testing.T) {
		op := h.createOp(uid, "100", "EUR", nil)
		dl := h.signingData(op.ID, d)
		if r := h.do("POST", "/v1/operations/"+op.ID+"/cancel", "", nil); r.status != 200 || r.json(t)["status"] != "CANCELED" {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		if r := h.approve(op.ID, d, sign(d.key, dl[:])); r.status != 409 {
			t.Fatalf("approve canceled: %d %s", r.status, r.body)
		}
		op2 := h.createOp(uid, "100", "EUR", nil)
		dl2 := h.signingData(op2.ID, d)
		if r := h.approve(op2.ID, d, sign(d.key, dl2[:])); r.status != 200 {
			t.Fatalf("approve: %d", r.status)
		}
		if r := h.approve(op2.ID, d, sign(d.key, dl2[:])); r.status != 409 {
			t.Fatalf("second approve: %d %s", r.status, r.body)
		}
		if r := h.do("POST", "/v1/operations/"+op2.ID+"/cancel", "", nil); r.status != 409 {
			t.Fatalf("cancel approved: %d", r.status)
		}
	})
}

func (h *harness) signingDataNoCheck(opID string) []byte {
	op, _ := h.store.GetOperation(context.Background(), opID)
	return op.DL
}

func TestExpiredOperation(t *testing.T) {
	var now atomic.Pointer[time.Time]
	t0 := time.Now()
	now.Store(&t0)
	clock := func() time.Time { return *now.Load() }
	h := newHarnessWith(t, harnessOpts{now: clock})
	uid := h.createUser("cust-exp")
	d := h.newDevice(uid)
	op := h.createOp(uid, "10", "EUR", map[string]any{"expires_in": 30})
	dl := h.signingData(op.ID, d)
	later := t0.Add(31 * time.Second)
	now.Store(&later)
	if r := h.approve(op.ID, d, sign(d.key, dl[:])); r.status != 410 {
		t.Fatalf("approve expired: %d %s", r.status, r.body)
	}
	if g := h.do("GET", "/v1/operations/"+op.ID, "", nil); g.json(t)["status"] != "EXPIRED" {
		t.Fatalf("get: %s", g.body)
	}
}

func TestOperationValidation(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-val")
	payee := map[string]string{"account": "DE89370400440532013000", "name": "ACME"}
	tests := []struct {
		name string
		body map[string]any
	}{
		{"rounding refused", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1.005", "currency": "EUR"}},
		{"negative", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "-1", "currency": "EUR"}},
		{"zero", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "0", "currency": "EUR"}},
		{"float-ish exponent", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1e3", "currency": "EUR"}},
		{"JPY decimals", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1.5", "currency": "JPY"}},
		{"unknown currency", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1", "currency": "EUX"}},
		{"bad IBAN checksum", map[string]any{"user_id": uid, "type": "payment", "payee": map[string]string{"account": "DE89370400440532013001", "name": "x"}, "amount": "1", "currency": "EUR"}},
		{"empty payee name", map[string]any{"user_id": uid, "type": "payment", "payee": map[string]string{"account": "DE89370400440532013000", "name": ""}, "amount": "1", "currency": "EUR"}},
		{"payee name too long", map[string]any{"user_id": uid, "type": "payment", "payee": map[string]string{"account": "DE89370400440532013000", "name": strings.Repeat("a", 141)}, "amount": "1", "currency": "EUR"}},
		{"control char in name", map[string]any{"user_id": uid, "type": "payment", "payee": map[string]string{"account": "DE89370400440532013000", "name": "AC\nME"}, "amount": "1", "currency": "EUR"}},
		{"expiry too short", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1", "currency": "EUR", "expires_in": 29}},
		{"expiry too long", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1", "currency": "EUR", "expires_in": 3601}},
		{"unknown factor", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "1", "currency": "EUR", "factors": []string{"sms"}}},
		{"unknown user", map[string]any{"user_id": uuid.NewString(), "type": "payment", "payee": payee, "amount": "1", "currency": "EUR"}},
		{"amount as number", map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": 100, "currency": "EUR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/v1/operations", "", tc.body)
			if r.status != 400 || r.json(t)["code"] != "invalid_request" {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	ops, _ := h.store.ListOperations(context.Background(), store.OperationFilter{UserID: uid})
	if len(ops) != 0 {
		t.Fatalf("refused requests created %d operations", len(ops))
	}
	t.Run("canonical amounts", func(t *testing.T) {
		for _, c := range [][3]string{{"100", "EUR", "100.00"}, {"1.5", "EUR", "1.50"}, {"1000", "JPY", "1000"}, {"2.5", "BHD", "2.500"}} {
			if op := h.createOp(uid, c[0], c[1], nil); op.Amount != c[2] {
				t.Errorf("%s %s → %s, want %s", c[0], c[1], op.Amount, c[2])
			}
		}
	})
	t.Run("idempotency key", func(t *testing.T) {
		body := map[string]any{"user_id": uid, "type": "payment", "payee": payee, "amount": "7", "currency": "EUR"}
		do := func(b map[string]any) response {
			raw, _ := json.Marshal(b)
			req, _ := http.NewRequest("POST", "http://"+h.addr+"/v1/operations", strings.NewReader(string(raw)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+testSecret)
			req.Header.Set("Idempotency-Key", "order-1")
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ = io.ReadAll(resp.Body)
			return response{status: resp.StatusCode, body: raw}
		}
		first, again := do(body), do(body)
		if first.status != 201 || again.status != 200 || first.json(t)["id"] != again.json(t)["id"] {
			t.Fatalf("%d %d", first.status, again.status)
		}
		body["amount"] = "8"
		if r := do(body); r.status != 409 {
			t.Fatalf("reused key with another amount: %d", r.status)
		}
	})
}

func TestRegistrationCodes(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-rc")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reg := func(code string, jwk any) response {
		return h.do("POST", "/v1/devices", "-", map[string]any{"registration_code": code, "public_key": jwk})
	}
	t.Run("malformed JWKs", func(t *testing.T) {
		code := h.registrationCode(uid)
		good := jwkOf(&key.PublicKey)
		withD := map[string]string{"kty": "EC", "crv": "P-256", "x": good["x"], "y": good["y"], "d": "AAAA"}
		offCurve := map[string]string{"kty": "EC", "crv": "P-256", "x": good["x"], "y": good["x"]}
		for _, jwk := range []any{nil, "string", map[string]string{"kty": "RSA"}, map[string]string{"kty": "EC", "crv": "P-384", "x": good["x"], "y": good["y"]},
			withD, offCurve, map[string]string{"kty": "EC", "crv": "P-256", "x": "short", "y": good["y"]}} {
			if r := reg(code, jwk); r.status != 400 {
				t.Fatalf("%v: %d %s", jwk, r.status, r.body)
			}
		}
		if r := reg(code, good); r.status != 201 { // bad JWKs did not burn the code
			t.Fatalf("good: %d %s", r.status, r.body)
		}
		if r := reg(code, jwkOf(&key.PublicKey)); r.status != 401 {
			t.Fatalf("reused code: %d %s", r.status, r.body)
		}
	})
	t.Run("five wrong tries burn the code", func(t *testing.T) {
		code := h.registrationCode(uid)
		k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		wrong := code[:10] + flipChar(code[10]) + code[11:]
		for i := 0; i < 5; i++ {
			if r := reg(wrong, jwkOf(&k2.PublicKey)); r.status != 401 {
				t.Fatalf("guess %d: %d", i, r.status)
			}
		}
		if r := reg(code, jwkOf(&k2.PublicKey)); r.status != 401 {
			t.Fatalf("burned code still works: %d %s", r.status, r.body)
		}
	})
	t.Run("same key twice", func(t *testing.T) {
		if r := reg(h.registrationCode(uid), jwkOf(&key.PublicKey)); r.status != 409 {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("unknown code", func(t *testing.T) {
		k3, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if r := reg("AAAA-AAAA-AAAA-AAAA-AAAA", jwkOf(&k3.PublicKey)); r.status != 401 {
			t.Fatalf("%d", r.status)
		}
	})
}

func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestParallelApprovalsYieldOneToken(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-par")
	d := h.newDevice(uid)
	op := h.createOp(uid, "100", "EUR", nil)
	dl := h.signingData(op.ID, d)
	sig := sign(d.key, dl[:])
	var wg sync.WaitGroup
	var ok, conflict atomic.Int32
	tokens := sync.Map{}
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.approve(op.ID, d, sig)
			switch r.status {
			case 200:
				ok.Add(1)
				tokens.Store(r.json(t)["token"], true)
			case 409:
				conflict.Add(1)
			default:
				t.Errorf("status %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != 199 {
		t.Fatalf("%d approvals, %d conflicts", ok.Load(), conflict.Load())
	}
	var token string
	tokens.Range(func(k, _ any) bool { token = k.(string); return true })
	var consumed atomic.Int32
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch r := h.do("POST", "/v1/tokens/consume", "", map[string]string{"token": token}); r.status {
			case 200:
				consumed.Add(1)
			case 409:
			default:
				t.Errorf("consume %d %s", r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if consumed.Load() != 1 {
		t.Fatalf("%d consumes succeeded", consumed.Load())
	}
}

func TestRedisStoppedFailsClosed(t *testing.T) {
	mr := miniredis.RunT(t)
	rp, err := redisreplay.Open("redis://"+mr.Addr()+"/0?max_retries=0&dial_timeout=200ms", "test:")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, harnessOpts{replay: rp, ready: map[string]server.Pinger{"redis": rp}})
	uid := h.createUser("cust-redis")
	d := h.newDevice(uid)
	op := h.createOp(uid, "100", "EUR", nil)
	dl := h.signingData(op.ID, d)
	r := h.approve(op.ID, d, sign(d.key, dl[:]))
	if r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	token := r.json(t)["token"].(string)
	mr.Close()
	if c := h.do("POST", "/v1/tokens/consume", "", map[string]string{"token": token}); c.status != 503 {
		t.Fatalf("consume with Redis stopped: %d %s", c.status, c.body)
	}
	if c := h.do("GET", "/readyz", "-", nil); c.status != 503 {
		t.Fatalf("readyz with Redis stopped: %d", c.status)
	}
	op2 := h.createOp(uid, "100", "EUR", nil)
	dl2 := h.signingData(op2.ID, d)
	if r := h.approve(op2.ID, d, sign(d.key, dl2[:])); r.status != 503 {
		t.Fatalf("approve with Redis stopped: %d %s", r.status, r.body)
	}
	if stored, _ := h.store.GetOperation(context.Background(), op2.ID); stored.Status != store.OpPending {
		t.Fatalf("operation left %s; it must stay PENDING so the user can retry", stored.Status)
	}
}

func TestListOperations(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-list")
	other := h.createUser("cust-other")
	a := h.createOp(uid, "1", "EUR", nil)
	b := h.createOp(uid, "2", "EUR", nil)
	h.createOp(other, "3", "EUR", nil)
	if r := h.do("POST", "/v1/operations/"+a.ID+"/cancel", "", nil); r.status != 200 {
		t.Fatalf("cancel: %d", r.status)
	}
	list := func(query string) []string {
		t.Helper()
		r := h.do("GET", "/v1/operations?"+query, "", nil)
		if r.status != 200 {
			t.Fatalf("list %s: %d %s", query, r.status, r.body)
		}
		var out struct{ Operations []opView }
		json.Unmarshal(r.body, &out)
		ids := []string{}
		for _, op := range out.Operations {
			ids = append(ids, op.ID+":"+op.Status)
		}
		return ids
	}
	if got := list("user_id=" + uid); len(got) != 2 || got[0] != a.ID+":CANCELED" || got[1] != b.ID+":PENDING" {
		t.Fatalf("all: %v", got)
	}
	if got := list("user_id=" + uid + "&status=PENDING"); len(got) != 1 || got[0] != b.ID+":PENDING" {
		t.Fatalf("pending: %v", got)
	}
	for _, bad := range []string{"", "user_id=nope", "user_id=" + uid + "&status=DONE"} {
		if r := h.do("GET", "/v1/operations?"+bad, "", nil); r.status != 400 {
			t.Fatalf("%q: %d", bad, r.status)
		}
	}
}
