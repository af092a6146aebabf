package webauthn

import (
	"crypto/ecdh"
	"crypto/hpke"
	"testing"

	"github.com/signet-sca/signet/kek"
)

func testService(t testing.TB) *Service {
	ring, err := kek.New([][]byte{make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	p := Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}
	return &Service{keys: ring, cfg: Config{Argon2: p}, gate: NewArgon2Gate(1, 0, p)}
}

func FuzzParseVerifier(f *testing.F) {
	s := testService(f)
	v, err := s.newVerifier(Passcode("482916"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v)
	for i := 0; i < len(v)*8; i += 7 {
		c := append([]byte(nil), v...)
		c[i/8] ^= 1 << (i % 8)
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pv, err := parseVerifier(b)
		if err != nil {
			return
		}
		if got := pv.bytes(); string(got) != string(b) {
			t.Fatalf("round trip %x → %x", b, got)
		}
	})
}

// FuzzOpenPasscode: no ciphertext opens under another ceremony's info, and a
// corrupted envelope never opens.
func FuzzOpenPasscode(f *testing.F) {
	s := testService(f)
	_, id, _ := s.keys.Derive(hpkePurpose)
	k, err := s.hpkeKey(id)
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := hpke.DHKEM(ecdh.P256()).NewPublicKey(k.PublicKey().Bytes())
	info := PasscodeInfo("ceremony", []byte("challenge-challenge-0123456789ab"), FieldPasscode)
	enc, sender, _ := hpke.NewSender(pub, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	ct, _ := sender.Seal(nil, []byte("482916"))
	f.Add(enc, ct, "ceremony")
	f.Add(enc, ct, "other")
	f.Fuzz(func(t *testing.T, e, c []byte, ceremony string) {
		pt, err := s.openPasscode(id, PasscodeInfo(ceremony, []byte("challenge-challenge-0123456789ab"), FieldPasscode), Envelope{Enc: e, Ciphertext: c})
		if err != nil {
			return
		}
		// Seeds are sealed in another process (fresh randomness), so only the
		// binding is checked: nothing opens under any other ceremony's info.
		if ceremony != "ceremony" || string(pt) != "482916" {
			t.Fatalf("opened %q for ceremony %q", pt, ceremony)
		}
	})
}
