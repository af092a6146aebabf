package evidence_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/internal/signettest"
	"github.com/signet-sca/signet/txsign"
	"github.com/signet-sca/signet/txsign/verify"
)

type fixture struct {
	stack    *signettest.Stack
	approved []byte
	rejected []byte
	trusted  map[string]*ecdsa.PublicKey
}

// newFixture approves one payment (after one bad signature) and rejects another, and builds
// both bundles.
func newFixture(t testing.TB) fixture {
	t.Helper()
	s := signettest.New(t, signettest.Options{})
	ctx := context.Background()
	u := s.User("cust-dispute")
	d := s.DeviceKey(u.ID)
	op := s.Payment(u.ID, "1250.5", "EUR")
	wrong := signettest.Sign(d.Key, []byte("not the digest"))
	if _, err := s.Ops.Decide(ctx, txsign.Attempt{OperationID: op.ID, CredentialID: d.CredentialID, Decision: txsign.Approve,
		Actor: "device", Verify: txsign.VerifyDeviceSignature(wrong, txsign.Approve)}); err == nil {
		t.Fatal("a wrong signature approved")
	}
	s.Approve(op, d)
	rej := s.Payment(u.ID, "9", "EUR")
	if _, err := s.Decide(rej, d, txsign.Reject); err != nil {
		t.Fatal(err)
	}
	b := evidence.NewBuilder(s.Store, s.Keyring, signettest.Issuer, nil)
	approved, err := b.Build(ctx, op.ID)
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := b.Build(ctx, rej.ID)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{stack: s, approved: approved, rejected: rejected, trusted: jwks(t, s)}
}

// jwks is what a bank keeps of Signet's published keys.
func jwks(t testing.TB, s *signettest.Stack) map[string]*ecdsa.PublicKey {
	keys, err := s.Keyring.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]any{"keys": keys})
	m, err := verify.ParseJWKS(raw)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func results(r evidence.Report) map[string]evidence.Result {
	m := map[string]evidence.Result{}
	for _, c := range r.Checks {
		m[c.Name] = c.Result
	}
	return m
}

func failed(r evidence.Report) []string {
	var out []string
	for _, c := range r.Checks {
		if c.Result == evidence.Fail {
			out = append(out, c.Name+": "+c.Detail)
		}
	}
	return out
}

func TestBuildRefusesWhatHasNoEvidence(t *testing.T) {
	s := signettest.New(t, signettest.Options{})
	u := s.User("cust-pending")
	pending := s.Payment(u.ID, "1", "EUR")
	b := evidence.NewBuilder(s.Store, s.Keyring, signettest.Issuer, nil)
	tests := []struct {
		name string
		id   string
		want error
	}{
		{"malformed id", "not-a-uuid", nil},
		{"unknown operation", "5a3e1c1e-0000-4000-8000-000000000000", fault.ErrNotFound},
		{"pending operation", pending.ID, fault.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Build(context.Background(), tt.id)
			var inv *fault.InvalidError
			if tt.want == nil && !errors.As(err, &inv) || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRealApprovalVerifies(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		bundle []byte
		token  evidence.Result
	}{{"approved", f.approved, evidence.Pass}, {"rejected", f.rejected, evidence.Skipped}} {
		t.Run(tc.name, func(t *testing.T) {
			r := evidence.Verify(tc.bundle, evidence.VerifyOptions{TrustedKeys: f.trusted})
			if !r.OK() {
				t.Fatalf("failed: %v", failed(r))
			}
			want := map[string]evidence.Result{"bundle": evidence.Pass, "canonical": evidence.Pass, "keys": evidence.Pass,
				"seal": evidence.Pass, "anchor": evidence.Pass, "dynamic-linking": evidence.Pass, "decision": evidence.Pass,
				"signature": evidence.Pass, "token": tc.token, "audit-trail": evidence.Pass}
			got := results(r)
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %s, want %s", k, got[k], v)
				}
			}
			// Without a trusted JWKS the anchor is reported as not checked, not as passed.
			if results(evidence.Verify(tc.bundle, evidence.VerifyOptions{}))["anchor"] != evidence.Skipped {
				t.Error("anchor must be skipped without trusted keys")
			}
		})
	}
	b, _ := evidence.Parse(f.approved)
	if b.Token == nil || b.Credential == nil || b.Credential.PublicKeyFormat != "PKIX" || len(b.Audit) != 3 ||
		b.Operation.Amount != "1250.50" || !strings.Contains(strings.Join(b.Notes, " "), "Device key") {
		t.Fatalf("bundle %+v", b)
	}
}

// TestOneChangedByteFails flips single bits across the whole file: whatever the byte, some check
// fails (the seal covers the content, the canonical form covers the layout).
func TestOneChangedByteFails(t *testing.T) {
	f := newFixture(t)
	step := max(1, len(f.approved)/400)
	for i := 0; i < len(f.approved); i += step {
		for _, bit := range []byte{0x01, 0x20} {
			mutated := bytes.Clone(f.approved)
			mutated[i] ^= bit
			if r := evidence.Verify(mutated, evidence.VerifyOptions{}); r.OK() {
				t.Fatalf("byte %d (%q) ^ %#x still verifies", i, f.approved[i], bit)
			}
		}
	}
}

func TestTamperedBundlesFail(t *testing.T) {
	f := newFixture(t)
	forger := newFixture(t) // another Signet: its own signing keys, device key and operations
	reencode := func(t *testing.T, mutate func(*evidence.Bundle)) []byte {
		b, err := evidence.Parse(f.approved)
		if err != nil {
			t.Fatal(err)
		}
		mutate(b)
		out, err := evidence.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name     string
		bundle   func(t *testing.T) []byte
		mustFail []string
	}{
		{name: "amount raised", bundle: func(t *testing.T) []byte {
			return reencode(t, func(b *evidence.Bundle) { b.Operation.Amount = "9250.50"; b.DynamicLinking.Inputs.Amount = "9250.50" })
		}, mustFail: []string{"seal", "dynamic-linking", "token"}},
		{name: "payee changed", bundle: func(t *testing.T) []byte {
			return reencode(t, func(b *evidence.Bundle) { b.Operation.PayeeAccount = "GB82WEST12345698765432" })
		}, mustFail: []string{"seal", "dynamic-linking"}},
		{name: "refused attempt removed from the audit trail", bundle: func(t *testing.T) []byte {
			return reencode(t, func(b *evidence.Bundle) { b.Audit = append(b.Audit[:1:1], b.Audit[2:]...) })
		}, mustFail: []string{"seal"}},
		{name: "credential key swapped", bundle: func(t *testing.T) []byte {
			fb, _ := evidence.Parse(forger.approved)
			return reencode(t, func(b *evidence.Bundle) { b.Credential.PublicKey = fb.Credential.PublicKey })
		}, mustFail: []string{"seal", "decision", "signature"}},
		{name: "seal removed", bundle: func(t *testing.T) []byte {
			return reencode(t, func(b *evidence.Bundle) { b.Seal = nil })
		}, mustFail: []string{"seal"}},
		{name: "whole bundle from another Signet", bundle: func(*testing.T) []byte { return forger.approved },
			mustFail: []string{"anchor"}},
		{name: "re-formatted", bundle: func(t *testing.T) []byte {
			var buf bytes.Buffer
			if err := json.Indent(&buf, bytes.ReplaceAll(f.approved, []byte("\n  "), []byte("\n")), "", "    "); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}, mustFail: []string{"canonical"}},
		{name: "unknown field", bundle: func(*testing.T) []byte {
			return bytes.Replace(f.approved, []byte(`"format"`), []byte(`"extra":1,"format"`), 1)
		}, mustFail: []string{"bundle"}},
		{name: "trailing data", bundle: func(*testing.T) []byte { return append(bytes.Clone(f.approved), '{', '}') },
			mustFail: []string{"bundle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := evidence.Verify(tt.bundle(t), evidence.VerifyOptions{TrustedKeys: f.trusted})
			if r.OK() {
				t.Fatal("tampered bundle verifies")
			}
			got := results(r)
			for _, name := range tt.mustFail {
				if got[name] != evidence.Fail {
					t.Errorf("%s: %s, want FAIL (failures: %v)", name, got[name], failed(r))
				}
			}
		})
	}
}

var update = flag.Bool("update", false, "rewrite testdata/*.json from a fresh approval")

// testdataBundles are an approval and a rejection built once (go test -run TestTestdata -update)
// and kept in testdata, so that the fuzz target's seeds are the same in every fuzzing process.
func testdataBundles(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, name := range []string{"approved.json", "rejected.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestTestdataBundlesVerify(t *testing.T) {
	if *update {
		f := newFixture(t)
		_ = os.MkdirAll("testdata", 0o755)
		for name, b := range map[string][]byte{"approved.json": f.approved, "rejected.json": f.rejected} {
			if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, b := range testdataBundles(t) {
		if r := evidence.Verify(b, evidence.VerifyOptions{}); !r.OK() {
			t.Fatalf("testdata bundle fails: %v (regenerate with -update)", failed(r))
		}
	}
}

// FuzzVerify: no input makes Verify panic, and only the bundles Signet built verify.
func FuzzVerify(f *testing.F) {
	seeds := testdataBundles(f)
	for _, s := range seeds {
		f.Add(s)
		for _, i := range []int{0, len(s) / 3, len(s) / 2, len(s) - 2} { // single-bit corruptions
			m := bytes.Clone(s)
			m[i] ^= 0x04
			f.Add(m)
		}
	}
	f.Add([]byte(`{"format":"signet-evidence-v1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := evidence.Verify(data, evidence.VerifyOptions{})
		if r.OK() && !bytes.Equal(data, seeds[0]) && !bytes.Equal(data, seeds[1]) {
			t.Fatalf("a bundle Signet did not build verifies: %q", data)
		}
		if b, err := evidence.Parse(data); err == nil {
			if _, err := evidence.Encode(b); err != nil {
				t.Fatalf("parsed bundle does not encode: %v", err)
			}
		}
	})
}
