package device

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signet-sca/signet/powerauth"
)

func testConfig(t testing.TB) (AppConfig, string) {
	t.Helper()
	master, err := powerauth.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	c := AppConfig{ApplicationKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16)),
		ApplicationSecret: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 16)),
		MasterPublicKey:   base64.StdEncoding.EncodeToString(master.PublicKey().Bytes())}
	raw, _ := json.Marshal(c)
	return c, base64.StdEncoding.EncodeToString(raw)
}

// sdkForm is c in the PowerAuth mobile SDK's binary configuration (powerauth.SDKConfig).
func sdkForm(c AppConfig) string {
	d := func(s string) []byte { b, _ := base64.StdEncoding.DecodeString(s); return b }
	return powerauth.SDKConfig{ApplicationKey: d(c.ApplicationKey), ApplicationSecret: d(c.ApplicationSecret),
		MasterPublicKey: d(c.MasterPublicKey)}.Encode()
}

func TestParseAppConfig(t *testing.T) {
	good, encoded := testConfig(t)
	enc := func(c AppConfig) string { raw, _ := json.Marshal(c); return base64.StdEncoding.EncodeToString(raw) }
	bad := func(f func(*AppConfig)) string { c := good; f(&c); return enc(c) }
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"not base64", "%%%", false},
		{"not JSON", base64.StdEncoding.EncodeToString([]byte("nope")), false},
		{"short application key", bad(func(c *AppConfig) { c.ApplicationKey = "AAAA" }), false},
		{"secret not base64", bad(func(c *AppConfig) { c.ApplicationSecret = "secret" }), false},
		{"master key off the curve", bad(func(c *AppConfig) {
			c.MasterPublicKey = base64.StdEncoding.EncodeToString(append([]byte{4}, bytes.Repeat([]byte{1}, 64)...))
		}), false},
		{"good: the JSON form Signet answered before", encoded, true},
		{"good: the SDK's binary form", sdkForm(good), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAppConfig(tt.in)
			if tt.ok != (err == nil) || (tt.ok && got != good) {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(filepath.Join(dir, "junk.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing.json"), filepath.Join(dir, "junk.json")} {
		if _, err := LoadState(p); err == nil {
			t.Fatalf("LoadState(%s) succeeded", p)
		}
	}
	st := &State{FormatVersion: stateFormat, Protocol: "3.3", ActivationID: "11111111-2222-4333-8444-555555555555",
		CounterData: bytes.Repeat([]byte{3}, 16), PossessionKey: bytes.Repeat([]byte{4}, 16)}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	if err := st.AdvanceCounter(3); err != nil || st.Counter != 3 {
		t.Fatalf("AdvanceCounter: %v, counter %d", err, st.Counter)
	}
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := LoadState(path)
	if err != nil || back.Counter != 3 || !bytes.Equal(back.CounterData, st.CounterData) {
		t.Fatalf("reloaded %+v, %v", back, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".device-state-") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
	ctr := powerauth.CounterData(bytes.Repeat([]byte{3}, 16))
	want := ctr.Next().Next().Next()
	if !bytes.Equal(back.CounterData, want[:]) {
		t.Fatal("AdvanceCounter does not follow next(CTR_DATA)")
	}
}

func TestOfflineCodeRefusesForgedQR(t *testing.T) {
	server, _ := powerauth.GeneratePrivateKey()
	other, _ := powerauth.GeneratePrivateKey()
	cfg, _ := testConfig(t)
	st := &State{FormatVersion: stateFormat, Protocol: "3.3", ActivationID: "11111111-2222-4333-8444-555555555555",
		MasterPublicKey: cfg.MasterPublicKey, ServerPublicKey: server.PublicKey().Bytes(),
		CounterData: bytes.Repeat([]byte{3}, 16), PossessionKey: bytes.Repeat([]byte{4}, 16), PINSalt: bytes.Repeat([]byte{5}, 16)}
	enc, _ := powerauth.EncryptKnowledgeKey(powerauth.SignatureKey{6}, "1234", st.PINSalt)
	st.EncryptedKnowledgeKey = enc[:]
	p := powerauth.OfflinePayload{OperationID: "op-1", Title: "Pay", Message: "100 EUR", OperationData: "A1*A100.00EUR",
		Flags: "B", Nonce: bytes.Repeat([]byte{7}, 16), KeyType: powerauth.OfflineKeyServer}
	forged, _ := powerauth.BuildOfflinePayload(p, other)
	genuine, _ := powerauth.BuildOfflinePayload(p, server)
	if _, _, err := OfflineCode(st, forged, "1234"); err == nil {
		t.Fatal("a QR signed by another key was accepted")
	}
	if st.Counter != 0 {
		t.Fatal("the counter moved for a refused QR")
	}
	_, code, err := OfflineCode(st, genuine, "1234")
	if err != nil || len(code) != 17 || st.Counter != 1 {
		t.Fatalf("code %q, %v, counter %d", code, err, st.Counter)
	}
}

// TestRememberPIN: with RememberPIN the knowledge key a PIN unlocked is kept
// for that PIN and that encrypted key only, never serialised; without it
// nothing is kept.
func TestRememberPIN(t *testing.T) {
	salt := bytes.Repeat([]byte{5}, 16)
	st := &State{PossessionKey: bytes.Repeat([]byte{4}, 16), PINSalt: salt}
	enc, _ := powerauth.EncryptKnowledgeKey(powerauth.SignatureKey{6}, "1234", salt)
	st.EncryptedKnowledgeKey = enc[:]
	pk := powerauth.SignaturePossessionKnowledge

	if _, err := st.signatureKeys(pk, "1234", false); err != nil || st.unlocked != nil {
		t.Fatalf("kept a key without RememberPIN: %v %v", st.unlocked, err)
	}
	k, err := st.signatureKeys(pk, "1234", true)
	if err != nil || k.Knowledge != (powerauth.SignatureKey{6}) || st.unlocked == nil {
		t.Fatalf("knowledge %x, kept %v, %v", k.Knowledge, st.unlocked, err)
	}
	// The kept key is what is used: a changed copy shows it.
	st.unlocked.key = powerauth.SignatureKey{9}
	if k, _ := st.signatureKeys(pk, "1234", true); k.Knowledge != (powerauth.SignatureKey{9}) {
		t.Fatal("the PIN was stretched again although its key was kept")
	}
	// Another PIN is never answered from the kept key.
	if k, _ := st.signatureKeys(pk, "9999", true); k.Knowledge == (powerauth.SignatureKey{9}) || k.Knowledge == (powerauth.SignatureKey{6}) {
		t.Fatalf("a wrong PIN unlocked %x", k.Knowledge)
	}
	// A changed PIN (new encrypted key) is stretched again.
	enc2, _ := powerauth.EncryptKnowledgeKey(powerauth.SignatureKey{7}, "1234", salt)
	st.EncryptedKnowledgeKey = enc2[:]
	if k, _ := st.signatureKeys(pk, "1234", true); k.Knowledge != (powerauth.SignatureKey{7}) {
		t.Fatalf("after a PIN change the old key %x was used", k.Knowledge)
	}
	raw, _ := json.Marshal(st)
	plain := powerauth.SignatureKey{7}
	if st.unlocked == nil || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString(plain[:]))) {
		t.Fatal("the unlocked key was serialised (or not kept)")
	}
}

func FuzzParseAppConfig(f *testing.F) {
	good, encoded := testConfig(f)
	f.Add(encoded)
	f.Add(sdkForm(good))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseAppConfig(s)
		if err == nil {
			if _, err := powerauth.ParsePublicKeyBase64(c.MasterPublicKey); err != nil {
				t.Fatalf("accepted %+v", c)
			}
		}
	})
}
