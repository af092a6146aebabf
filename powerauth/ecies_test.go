package powerauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func eciesTestConfig(t *testing.T, scope EciesScope, v Version) EciesConfig {
	t.Helper()
	secret, err := NewApplicationSecret()
	if err != nil {
		t.Fatal(err)
	}
	c := EciesConfig{Version: v, Scope: scope, SharedInfo1: SharedInfo1ApplicationGeneric,
		ApplicationKey: "OUYAN9l3XOs3eQt9VujIcA==", ApplicationSecret: secret}
	if scope == ScopeActivation {
		c.SharedInfo1 = SharedInfo1ActivationGeneric
		c.ActivationID = "dfd09318-f4bc-4830-85dd-c8e4d911bcda"
		c.TransportKey = TransportKey{0x42, 1, 2, 3}
	}
	if v == Version33 {
		c.TemporaryKeyID = "61376bfb-9988-423b-93d7-9678f1915965"
	}
	return c
}

// TestEciesRoundTrip runs client ↔ server in both scopes and both versions, with the ephemeral key sent
// compressed (mobile SDKs) and uncompressed (Java client).
func TestEciesRoundTrip(t *testing.T) {
	now := time.UnixMilli(1749762293560)
	for _, scope := range []EciesScope{ScopeApplication, ScopeActivation} {
		for _, v := range []Version{Version32, Version33} {
			for _, compressed := range []bool{true, false} {
				name := map[EciesScope]string{ScopeApplication: "application", ScopeActivation: "activation"}[scope] +
					"/" + v.String() + map[bool]string{true: "/compressed", false: "/uncompressed"}[compressed]
				t.Run(name, func(t *testing.T) {
					cfg := eciesTestConfig(t, scope, v)
					serverKey, err := GeneratePrivateKey()
					if err != nil {
						t.Fatal(err)
					}
					eph, err := GeneratePrivateKey()
					if err != nil {
						t.Fatal(err)
					}
					env, client, err := cfg.sealRequest(serverKey.PublicKey(), []byte(`{"hello":"server"}`), eph, compressed,
						[]byte("request-nonce-16"), now.UnixMilli())
					if err != nil {
						t.Fatal(err)
					}
					if wantLen := map[bool]int{true: 33, false: 65}[compressed]; len(b64(t, env.EphemeralPublicKey)) != wantLen {
						t.Fatalf("ephemeral key length")
					}
					wire, err := json.Marshal(env)
					if err != nil {
						t.Fatal(err)
					}
					parsed, err := ParseEnvelope(wire)
					if err != nil {
						t.Fatal(err)
					}
					if err := parsed.CheckTimestamp(now.Add(30*time.Second), 0); err != nil {
						t.Fatal(err)
					}
					serverCfg := cfg
					serverCfg.TemporaryKeyID = "" // the server learns it from the envelope
					plain, sess, err := serverCfg.OpenRequest(serverKey, parsed)
					if err != nil {
						t.Fatal(err)
					}
					if string(plain) != `{"hello":"server"}` {
						t.Fatalf("request %q", plain)
					}
					resp, err := sess.SealResponse([]byte(`{"hello":"client"}`), now.Add(time.Second))
					if err != nil {
						t.Fatal(err)
					}
					if resp.Nonce == env.Nonce || resp.EphemeralPublicKey != "" || resp.TemporaryKeyID != "" {
						t.Fatalf("response envelope %+v", resp)
					}
					got, err := client.OpenResponse(resp)
					if err != nil || string(got) != `{"hello":"client"}` {
						t.Fatalf("response %q, %v", got, err)
					}
					// The public SealRequest path works too.
					env2, client2, err := cfg.SealRequest(serverKey.PublicKey(), nil, now)
					if err != nil {
						t.Fatal(err)
					}
					if p2, s2, err := serverCfg.OpenRequest(serverKey, env2); err != nil || len(p2) != 0 {
						t.Fatalf("empty request: %v", err)
					} else if r2, err := s2.SealResponse([]byte("x"), now); err != nil {
						t.Fatal(err)
					} else if out, err := client2.OpenResponse(r2); err != nil || string(out) != "x" {
						t.Fatalf("second response %q %v", out, err)
					}
				})
			}
		}
	}
}

func TestEciesRejects(t *testing.T) {
	now := time.UnixMilli(1749762293560)
	cfg := eciesTestConfig(t, ScopeActivation, Version33)
	serverKey, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := cfg.SealRequest(serverKey.PublicKey(), []byte("payload"), now)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[len(b)-1] ^= 0x80
		return base64.StdEncoding.EncodeToString(b)
	}
	type mut struct {
		name    string
		cfg     func(*EciesConfig)
		env     func(*Envelope)
		key     *PrivateKey
		wantErr error
	}
	tests := []mut{
		{name: "wrong server key", key: otherKey, wantErr: ErrDecryption},
		{name: "flipped ciphertext", env: func(e *Envelope) { e.EncryptedData = flip(e.EncryptedData) }, wantErr: ErrDecryption},
		{name: "flipped mac", env: func(e *Envelope) { e.Mac = flip(e.Mac) }, wantErr: ErrDecryption},
		{name: "other nonce", env: func(e *Envelope) { e.Nonce = flip(e.Nonce) }, wantErr: ErrDecryption},
		{name: "other timestamp", env: func(e *Envelope) { e.Timestamp++ }, wantErr: ErrDecryption},
		{name: "other temporary key id", env: func(e *Envelope) { e.TemporaryKeyID = "61376bfb-9988-423b-93d7-9678f1915966" }, cfg: func(c *EciesConfig) { c.TemporaryKeyID = "" }, wantErr: ErrDecryption},
		{name: "temporary key id mismatch", env: func(e *Envelope) { e.TemporaryKeyID = "x" }, wantErr: ErrInvalidEnvelope},
		{name: "missing temporary key id", env: func(e *Envelope) { e.TemporaryKeyID = "" }, wantErr: ErrInvalidEnvelope},
		{name: "temporary key id in 3.2", cfg: func(c *EciesConfig) { c.Version = Version32; c.TemporaryKeyID = "" }, wantErr: ErrInvalidEnvelope},
		{name: "uncompressed re-encoding of the ephemeral key", env: func(e *Envelope) {
			k, _ := ParsePublicKeyBase64(e.EphemeralPublicKey)
			e.EphemeralPublicKey = base64.StdEncoding.EncodeToString(k.Bytes())
		}, wantErr: ErrDecryption},
		{name: "ephemeral key off curve", env: func(e *Envelope) {
			e.EphemeralPublicKey = base64.StdEncoding.EncodeToString(append([]byte{2}, bytes.Repeat([]byte{0xff}, 32)...))
		}, wantErr: ErrInvalidEnvelope},
		{name: "missing ephemeral key", env: func(e *Envelope) { e.EphemeralPublicKey = "" }, wantErr: ErrInvalidEnvelope},
		{name: "other activation", cfg: func(c *EciesConfig) { c.ActivationID = "b602bfa6-eeb1-4661-85f1-571ff4b30bc2" }, wantErr: ErrDecryption},
		{name: "other transport key", cfg: func(c *EciesConfig) { c.TransportKey[0] ^= 1 }, wantErr: ErrDecryption},
		{name: "other sh1", cfg: func(c *EciesConfig) { c.SharedInfo1 = SharedInfo1VaultUnlock }, wantErr: ErrDecryption},
		{name: "application scope", cfg: func(c *EciesConfig) { c.Scope = ScopeApplication }, wantErr: ErrDecryption},
		{name: "missing activation id", cfg: func(c *EciesConfig) { c.ActivationID = "" }, wantErr: ErrInvalidEnvelope},
		{name: "missing transport key", cfg: func(c *EciesConfig) { c.TransportKey = TransportKey{} }, wantErr: ErrInvalidEnvelope},
		{name: "version 3.1", cfg: func(c *EciesConfig) { c.Version = Version31 }, wantErr: ErrUnsupportedVersion},
		{name: "unchanged", wantErr: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			e := *env
			if tc.env != nil {
				tc.env(&e)
			}
			key := serverKey
			if tc.key != nil {
				key = tc.key
			}
			plain, _, err := c.OpenRequest(key, &e)
			if tc.wantErr == nil {
				if err != nil || string(plain) != "payload" {
					t.Fatalf("got %q, %v", plain, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("want %v, got %v", tc.wantErr, err)
			}
		})
	}
	// The window is inclusive at both ends: exactly 60 s late or early is still accepted.
	for _, d := range []time.Duration{60 * time.Second, -60 * time.Second} {
		if err := env.CheckTimestamp(time.UnixMilli(env.Timestamp).Add(d), 0); err != nil {
			t.Fatalf("request %s from now at the window's edge: %v", d, err)
		}
	}
	if err := env.CheckTimestamp(now.Add(61*time.Second), 0); !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatalf("stale request: %v", err)
	}
	if err := env.CheckTimestamp(now.Add(-61*time.Second), 0); !errors.Is(err, ErrInvalidEnvelope) {
		t.Fatalf("future request: %v", err)
	}
	if env.ReplayKey() == "" {
		t.Fatal("empty replay key")
	}
}

func TestParseEnvelope(t *testing.T) {
	good := `{"ephemeralPublicKey":"A5Zwg18sk2WZKMJ1pvj/nQByRPntPlWDhDIGuPo3YY5P","encryptedData":"lklXSqiwIAM3QlD5hI14RA==","mac":"awV995RRPwgYuGcMotLckUQFk0koDuyEkyWFPzKCajc=","nonce":"UJlXnlsljm08zPpwm7H5hQ==","timestamp":1749762293560}`
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"empty", ``, false},
		{"array", `[]`, false},
		{"trailing data", good + `{}`, false},
		{"timestamp as string", `{"encryptedData":"lklXSqiwIAM3QlD5hI14RA==","mac":"awV995RRPwgYuGcMotLckUQFk0koDuyEkyWFPzKCajc=","nonce":"UJlXnlsljm08zPpwm7H5hQ==","timestamp":"1"}`, false},
		{"missing timestamp", `{"encryptedData":"lklXSqiwIAM3QlD5hI14RA==","mac":"awV995RRPwgYuGcMotLckUQFk0koDuyEkyWFPzKCajc=","nonce":"UJlXnlsljm08zPpwm7H5hQ=="}`, false},
		{"short mac", `{"encryptedData":"lklXSqiwIAM3QlD5hI14RA==","mac":"awV9","nonce":"UJlXnlsljm08zPpwm7H5hQ==","timestamp":1}`, false},
		{"ciphertext not block aligned", `{"encryptedData":"lklX","mac":"awV995RRPwgYuGcMotLckUQFk0koDuyEkyWFPzKCajc=","nonce":"UJlXnlsljm08zPpwm7H5hQ==","timestamp":1}`, false},
		{"short nonce", `{"encryptedData":"lklXSqiwIAM3QlD5hI14RA==","mac":"awV995RRPwgYuGcMotLckUQFk0koDuyEkyWFPzKCajc=","nonce":"UJlX","timestamp":1}`, false},
		{"bad ephemeral key length", `{"ephemeralPublicKey":"AAAA","encryptedData":"lklXSqiwIAM3QlD5hI14RA==","mac":"awV995RRPwgYuGcMotLckUQFk0koDuyEkyWFPzKCajc=","nonce":"UJlXnlsljm08zPpwm7H5hQ==","timestamp":1}`, false},
		{"request", good, true},
		{"unknown field ignored", `{"x":1,` + good[1:], true},
		{"response", `{"encryptedData":"aYwugV0XUKR+Q1x8nl4gew==","mac":"M96/vEVhdUMBVMCwacbRsW+rz8IOZPrgZrMDHldL1rU=","nonce":"t97lFCUOWRlAQeh0KTaowQ==","timestamp":1749762293621}`, true},
		// The size limit: a body of exactly maxEnvelopeLen bytes (JSON whitespace padding) is read, one more is not.
		{"exactly the size limit", good + strings.Repeat(" ", maxEnvelopeLen-len(good)), true},
		{"one byte over the size limit", good + strings.Repeat(" ", maxEnvelopeLen-len(good)+1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEnvelope([]byte(tc.in))
			if tc.ok != (err == nil) {
				t.Fatalf("ok=%v, err=%v", tc.ok, err)
			}
			if err != nil && !errors.Is(err, ErrInvalidEnvelope) {
				t.Fatalf("error %v is not ErrInvalidEnvelope", err)
			}
		})
	}
}

func TestVaultKeyWrap(t *testing.T) {
	dev, _ := GeneratePrivateKey()
	srv, _ := GeneratePrivateKey()
	m, err := srv.MasterSecret(dev.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	keys := DeriveKeys(m)
	wrapped := EncryptVaultKey(keys.Vault, keys.Transport)
	if len(wrapped) != 32 {
		t.Fatalf("wrapped key has %d bytes", len(wrapped))
	}
	got, err := DecryptVaultKey(wrapped, keys.Transport)
	if err != nil || !got.Equal(keys.Vault) {
		t.Fatalf("unwrap: %v", err)
	}
	if _, err := DecryptVaultKey(wrapped, TransportKey{}); err == nil {
		// A wrong key almost always breaks the padding; if it does not, the key must still differ.
		if g, _ := DecryptVaultKey(wrapped, TransportKey{}); g.Equal(keys.Vault) {
			t.Fatal("wrong transport key recovered the vault key")
		}
	}
	if _, err := DecryptVaultKey(wrapped[:16], keys.Transport); err == nil {
		t.Fatal("truncated wrap accepted")
	}
}
