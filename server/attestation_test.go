package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign/verify"
)

const testAppID = "ABCDE12345.com.example.bank"

type attestHarness struct {
	*harness
	ca *attesttest.CA
}

func newAttestHarness(t *testing.T, attestedTypes ...string) attestHarness {
	ca, err := attesttest.NewCA("signet", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"entries": map[string]any{"5eed": map[string]string{"status": "REVOKED", "reason": "KEY_COMPROMISE"}}})
	}))
	t.Cleanup(status.Close)
	p := devicekey.AttestationPolicy{
		Android: attest.AndroidPolicy{Roots: []*x509.Certificate{ca.Root}, PackageNames: []string{attesttest.DefaultPackage},
			SigningCertDigests: [][]byte{attesttest.DefaultSigningDigest}, Revocations: &attest.RevocationList{URL: status.URL}},
		Apple: attest.ApplePolicy{Roots: []*x509.Certificate{ca.Root}, AppIDs: []string{testAppID}},
	}
	return attestHarness{harness: newHarnessWith(t, harnessOpts{attestation: p, attestedTypes: attestedTypes}), ca: ca}
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// androidRegistration is what an Android app sends: the key generated with the code's
// attestation challenge, and its certificate chain.
func (h attestHarness) androidRegistration(code string, key *ecdsa.PrivateKey, k attesttest.AndroidKey) map[string]any {
	h.t.Helper()
	if k.Challenge == nil {
		k.Challenge = devicekey.AttestationChallenge(code)
	}
	chain, err := h.ca.AndroidChain(&key.PublicKey, k, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	var enc []string
	for _, c := range chain {
		enc = append(enc, b64std(c))
	}
	return map[string]any{"registration_code": code, "public_key": jwkOf(&key.PublicKey), "platform": "Android",
		"attestation": map[string]any{"format": "android-key", "certificate_chain": enc}}
}

func (h attestHarness) register(body map[string]any) (device, map[string]any) {
	h.t.Helper()
	r := h.do("POST", "/v1/devices", "-", body)
	if r.status != 201 {
		h.t.Fatalf("register: %d %s", r.status, r.body)
	}
	m := r.json(h.t)
	return device{credID: m["credential_id"].(string)}, m["assurance"].(map[string]any)
}

func (h attestHarness) approveFor(uid, opType string, d device, extra map[string]any) response {
	h.t.Helper()
	op := h.createOp(uid, "250", "EUR", map[string]any{"type": opType})
	dl := h.signingData(op.ID, d)
	body := map[string]any{"credential_id": d.credID, "signature": sign(d.key, dl[:])}
	for k, v := range extra {
		body[k] = v
	}
	return h.do("POST", "/v1/operations/"+op.ID+"/approve", h.capAuth(op.ID), body)
}

// TestDeviceKeyAttestationEndToEnd: over HTTP, an Android key attested as biometric-per-use
// approves with an SCA token the gateway's default payment policy accepts; an unattested key's
// approval is single-factor and refused by that policy; every registration refusal is a 403 that
// names its reason and counts a try on the code.
func TestDeviceKeyAttestationEndToEnd(t *testing.T) {
	h := newAttestHarness(t, "high-value")
	uid := h.createUser("cust-att")
	ctx := context.Background()
	sec := int64(10)

	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			key  attesttest.AndroidKey
			body func(map[string]any)
			want string
		}{
			{name: "wrong challenge", key: attesttest.AndroidKey{Challenge: devicekey.AttestationChallenge("AAAA-AAAA-AAAA-AAAA-AAAA")}, want: "(challenge)"},
			{name: "software key", key: attesttest.AndroidKey{Software: true}, want: "(security_level)"},
			{name: "no user authentication", key: attesttest.AndroidKey{UserAuthType: -1}, want: "(user_auth)"},
			{name: "auth timeout", key: attesttest.AndroidKey{AuthTimeout: &sec}, want: "(auth_timeout)"},
			{name: "wrong package", key: attesttest.AndroidKey{Package: "com.evil"}, want: "(app_id)"},
			{name: "expired", key: attesttest.AndroidKey{NotBefore: time.Now().AddDate(-2, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)}, want: "(expired)"},
			{name: "revoked", key: attesttest.AndroidKey{Serial: big.NewInt(0x5eed)}, want: "(revoked)"},
			{name: "another key than public_key", body: func(b map[string]any) {
				other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				b["public_key"] = jwkOf(&other.PublicKey)
			}, want: "(key_mismatch)"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code := h.registrationCode(uid)
				key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
				body := h.androidRegistration(code, key, tc.key)
				if tc.body != nil {
					tc.body(body)
				}
				r := h.do("POST", "/v1/devices", "-", body)
				if r.status != 403 || !strings.Contains(string(r.body), tc.want) {
					t.Fatalf("%d %s, want 403 %s", r.status, r.body, tc.want)
				}
				evs, _, _ := h.store.ListAudit(context.Background(), store.AuditFilter{UserID: uid, Limit: 1000})
				reason := "attestation refused: " + strings.Trim(tc.want, "()")
				if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return e.Type == "device.register" && e.Reason == reason }) {
					t.Fatalf("no audited refusal %q", reason)
				}
				// The refusal is audited with its reason, and the code is still usable (one try counted).
				good := h.androidRegistration(code, key, attesttest.AndroidKey{})
				if r := h.do("POST", "/v1/devices", "-", good); r.status != 201 {
					t.Fatalf("the code after a refused attestation: %d %s", r.status, r.body)
				}
			})
		}
		t.Run("unknown root", func(t *testing.T) {
			other, _ := attesttest.NewCA("other", time.Now())
			code := h.registrationCode(uid)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			body := attestHarness{h.harness, other}.androidRegistration(code, key, attesttest.AndroidKey{})
			if r := h.do("POST", "/v1/devices", "-", body); r.status != 403 || !strings.Contains(string(r.body), "(unknown_root)") {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	})

	// The attested device. The bank's backend also receives the code's challenge.
	issued := h.do("POST", "/v1/users/"+uid+"/registration-codes", "", nil).json(t)
	code := issued["code"].(string)
	if issued["attestation_challenge"] != base64.RawURLEncoding.EncodeToString(devicekey.AttestationChallenge(code)) {
		t.Fatalf("issued %v", issued)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	att, assurance := h.register(h.androidRegistration(code, key, attesttest.AndroidKey{}))
	att.key = key
	if assurance["format"] != "android-key" || assurance["hardware_level"] != "tee" || assurance["user_verification"] != "biometric" ||
		assurance["app_verified"] != true || assurance["app_id"] != attesttest.DefaultPackage {
		t.Fatalf("assurance %v", assurance)
	}
	plain := h.newDevice(uid)

	// The private API shows each device's assurance.
	r := h.do("GET", "/v1/users/"+uid+"/credentials", "", nil)
	var list struct {
		Credentials []struct {
			ID        string            `json:"id"`
			Assurance *attest.Assurance `json:"assurance"`
		} `json:"credentials"`
	}
	_ = json.Unmarshal(r.body, &list)
	seen := 0
	for _, c := range list.Credentials {
		switch c.ID {
		case att.credID:
			if c.Assurance == nil || c.Assurance.Format != attest.FormatAndroidKey || c.Assurance.UserVerification != attest.UVBiometric {
				t.Fatalf("attested credential %+v", c.Assurance)
			}
			seen++
		case plain.credID:
			if c.Assurance == nil || c.Assurance.Attested() || c.Assurance.UserVerification != attest.UVNotProven {
				t.Fatalf("unattested credential %+v", c.Assurance)
			}
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("credentials %s", r.body)
	}

	binding := func() (verify.Binding, error) {
		return verify.Binding{Amount: "250.00", Currency: "EUR", PayeeAccount: "DE89370400440532013000"}, nil
	}
	v := h.verifier(t, nil)

	// Attested: amr hwk+fpt, acr sca; the gateway's default payment policy (a binding: SCA) accepts it.
	r = h.approveFor(uid, "payment", att, nil)
	if r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	claims, err := verify.Check(ctx, v, r.json(t)["token"].(string), false, "", binding)
	if err != nil {
		t.Fatalf("the gateway's default policy refused an attested approval: %v", err)
	}
	if !slices.Equal(claims.AMR, []string{"hwk", "fpt"}) || claims.ACR != verify.ACRSCA {
		t.Fatalf("amr %v acr %s", claims.AMR, claims.ACR)
	}
	// The evidence bundle carries the attestation and the assurance.
	ev := h.do("GET", "/v1/operations/"+claims.Op+"/evidence", "", nil)
	if ev.status != 200 || !strings.Contains(string(ev.body), `"certificate_chain"`) || !strings.Contains(string(ev.body), `"biometric"`) {
		t.Fatalf("evidence: %d %s", ev.status, ev.body)
	}
	rep := evidence.Verify(ev.body, evidence.VerifyOptions{})
	if !rep.OK() {
		t.Fatalf("the bundle with an attestation does not verify: %+v", rep.Checks)
	}
	// Offline, the attestation's chain and key are re-checked; the test root is not Google's.
	if !slices.ContainsFunc(rep.Checks, func(c evidence.Check) bool {
		return c.Name == "attestation" && c.Result == evidence.NotVerifiable && strings.Contains(c.Detail, "the chain's signatures hold")
	}) {
		t.Fatalf("no attestation check: %+v", rep.Checks)
	}

	// Unattested: amr hwk, acr 1fa; the same policy refuses it, and so does the consume API.
	r = h.approveFor(uid, "payment", plain, nil)
	if r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	token := r.json(t)["token"].(string)
	claims, err = verify.Check(ctx, v, token, false, "", binding)
	if err == nil || claims != nil && claims.ACR == verify.ACRSCA {
		t.Fatalf("an unattested approval passed the default policy: %v %+v", err, claims)
	}
	if c := h.do("POST", "/v1/tokens/consume", "", map[string]string{"token": token, "require_acr": "sca"}); c.status != 403 {
		t.Fatalf("consume sca: %d %s", c.status, c.body)
	}

	// Operation types the bank reserves for attested keys.
	if r := h.approveFor(uid, "high-value", plain, nil); r.status != 403 || !strings.Contains(string(r.body), "platform attestation") {
		t.Fatalf("unattested high-value: %d %s", r.status, r.body)
	}
	if r := h.approveFor(uid, "high-value", att, nil); r.status != 200 {
		t.Fatalf("attested high-value: %d %s", r.status, r.body)
	}
}

// TestDeviceKeyAppAttestEndToEnd: an iOS key registered with App Attest records the app's
// identity but not user verification (1fa), and its approvals need an App Attest assertion
// with an increasing counter.
func TestDeviceKeyAppAttestEndToEnd(t *testing.T) {
	h := newAttestHarness(t)
	uid := h.createUser("cust-ios")
	code := h.registrationCode(uid)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkix, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	cdh := devicekey.AppAttestClientDataHash(devicekey.AttestationChallenge(code), pkix)
	body := func(cdh []byte) (map[string]any, *ecdsa.PrivateKey) {
		obj, kid, aak, err := h.ca.AppleAttestation(cdh, attesttest.AppleKey{AppID: testAppID}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"registration_code": code, "public_key": jwkOf(&key.PublicKey), "platform": "iOS",
			"attestation": map[string]any{"format": "apple-appattest", "key_id": b64std(kid), "object": b64std(obj)}}, aak
	}
	// An attestation over another client data hash (the code's challenge with another key) is refused.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherPKIX, _ := x509.MarshalPKIXPublicKey(&other.PublicKey)
	bad, _ := body(devicekey.AppAttestClientDataHash(devicekey.AttestationChallenge(code), otherPKIX))
	if r := h.do("POST", "/v1/devices", "-", bad); r.status != 403 || !strings.Contains(string(r.body), "(challenge)") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	good, aak := body(cdh)
	d, assurance := h.register(good)
	d.key = key
	if assurance["format"] != "apple-appattest" || assurance["user_verification"] != "not_proven" || assurance["app_id"] != testAppID {
		t.Fatalf("assurance %v", assurance)
	}
	assertion := func(opID string, counter uint32) string {
		dl := h.signingData(opID, d)
		msgHash := sha256Sum(dl[:])
		a, err := attesttest.AppleAssertion(aak, testAppID, msgHash[:], counter)
		if err != nil {
			t.Fatal(err)
		}
		return b64std(a)
	}
	approve := func(counter uint32, withAssertion bool) response {
		op := h.createOp(uid, "10", "EUR", nil)
		dl := h.signingData(op.ID, d)
		b := map[string]any{"credential_id": d.credID, "signature": sign(key, dl[:])}
		if withAssertion {
			b["app_assertion"] = assertion(op.ID, counter)
		}
		return h.do("POST", "/v1/operations/"+op.ID+"/approve", h.capAuth(op.ID), b)
	}
	if r := approve(0, false); r.status != 401 {
		t.Fatalf("without an assertion: %d %s", r.status, r.body)
	}
	r := approve(3, true)
	if r.status != 200 {
		t.Fatalf("with an assertion: %d %s", r.status, r.body)
	}
	claims, err := h.verifier(t, nil).Verify(context.Background(), r.json(t)["token"].(string))
	if err != nil || !slices.Equal(claims.AMR, []string{"hwk"}) || claims.ACR != verify.ACR1FA {
		t.Fatalf("claims %+v %v: App Attest proves no user verification", claims, err)
	}
	if r := approve(3, true); r.status != 401 {
		t.Fatalf("a counter that did not increase: %d %s", r.status, r.body)
	}
	if r := approve(4, true); r.status != 200 {
		t.Fatalf("next counter: %d %s", r.status, r.body)
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
