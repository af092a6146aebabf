package webauthn_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/signet-sca/signet/webauthn"
)

// flips returns b with each single bit flipped in turn (at most n variants).
func flips(b []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < len(b)*8 && len(out) < n; i++ {
		c := append([]byte(nil), b...)
		c[i/8] ^= 1 << (i % 8)
		out = append(out, c)
	}
	return out
}

func validEnvelope() []byte {
	enc := make([]byte, 65)
	enc[0] = 4
	raw, _ := json.Marshal(map[string]string{"enc": base64.RawURLEncoding.EncodeToString(enc),
		"ct": base64.RawURLEncoding.EncodeToString(make([]byte, 22))})
	return raw
}

func FuzzParseEnvelope(f *testing.F) {
	v := validEnvelope()
	f.Add(v)
	for _, c := range flips(v, 64) {
		f.Add(c)
	}
	f.Add([]byte(`{"enc":"","ct":""}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"enc":"BA","ct":"AA","x":1}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := webauthn.ParseEnvelope(raw)
		if err != nil {
			return
		}
		if len(e.Enc) != 65 || e.Enc[0] != 4 || len(e.Ciphertext) < 22 || len(e.Ciphertext) > 28 {
			t.Fatalf("accepted %q as enc %d ct %d", raw, len(e.Enc), len(e.Ciphertext))
		}
	})
}

func FuzzPasscode(f *testing.F) {
	for _, s := range []string{"482916", "123456", "000000", "890123", "135790246813", "12345", "１２３４５６", "48291a"} {
		f.Add([]byte(s))
	}
	for _, c := range flips([]byte("482916"), 48) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := webauthn.ParsePasscode(b)
		strict, serr := webauthn.CheckPasscodePolicy(b)
		if serr == nil && err != nil {
			t.Fatalf("policy accepts what parsing refuses: %q", b)
		}
		if err != nil {
			return
		}
		if len(p) < 6 || len(p) > 12 || strings.Trim(string(p), "0123456789") != "" {
			t.Fatalf("accepted %q", b)
		}
		if serr == nil {
			same := strings.Count(string(strict), string(strict[0])) == len(strict)
			if same || strings.Contains("01234567890123456789", string(strict)) || strings.Contains("98765432109876543210", string(strict)) {
				t.Fatalf("policy accepted %q", b)
			}
		}
	})
}

func FuzzParseToken(f *testing.F) {
	f.Add(strings.Repeat("A", 43))
	f.Add("3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add(strings.Repeat("_", 43))
	f.Add(strings.Repeat("A", 42) + "B") // non-canonical final bits
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tok, ok := webauthn.ParseToken(s)
		if !ok {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) != 32 || tok != s {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzCheckReturnURL(f *testing.F) {
	allow := []string{"https://bank.example/sca/", "http://localhost:3000/done"}
	for _, s := range []string{"https://bank.example/sca/cb?x=1", "http://localhost:3000/done", "https://bank.example/sca/../x",
		"https://bank.example@evil.example/sca/", "https://bank.example/sca%2f..%2fx", "https://bank.example\\@evil/sca/",
		"https://bank.example/sca/#frag", "HTTPS://BANK.EXAMPLE/sca/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := webauthn.CheckReturnURL(allow, raw)
		if !ok {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("returned unparsable %q", got)
		}
		origin := u.Scheme + "://" + strings.ToLower(u.Host)
		if u.User != nil || (origin != "https://bank.example" && origin != "http://localhost:3000") {
			t.Fatalf("%q → %q leaves the allow-list", raw, got)
		}
		p := u.EscapedPath()
		if !strings.HasPrefix(p, "/sca/") && p != "/done" && !strings.HasPrefix(p, "/done/") {
			t.Fatalf("%q → path %q", raw, p)
		}
		if strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || strings.Contains(p, "\\") {
			t.Fatalf("%q → dot segments %q", raw, p)
		}
	})
}
