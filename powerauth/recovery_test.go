package powerauth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// javaRecovery rebuilds Wultra's IdentifierGenerator step by step with the primitives Java uses, not with
// this package's helpers: X9.63 KDF by hand, AES/CBC/PKCS7Padding with a zero IV over the 8 index bytes
// (KeyGenerator.deriveSecretKey keeps the first 16 bytes), the activation code by hand (CRC-16/ARC, Base32).
func javaRecovery(t *testing.T, secret, nonce []byte, idx []uint64) (string, []string) {
	t.Helper()
	var d []byte
	for ctr := uint32(1); len(d) < 26; ctr++ {
		h := sha256.New()
		h.Write(secret)
		_ = binary.Write(h, binary.BigEndian, ctr)
		h.Write(nonce)
		d = h.Sum(d)
	}
	d = d[:26]
	var crc uint16
	for _, b := range d[:10] {
		crc ^= uint16(b)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	b32 := base32.StdEncoding.EncodeToString(append(append([]byte(nil), d[:10]...), byte(crc>>8), byte(crc)))[:20]
	code := b32[0:5] + "-" + b32[5:10] + "-" + b32[10:15] + "-" + b32[15:20]
	block, err := aes.NewCipher(d[10:26])
	if err != nil {
		t.Fatal(err)
	}
	var puks []string
	for _, i := range idx {
		plain := binary.BigEndian.AppendUint64(nil, i)
		plain = append(plain, bytes.Repeat([]byte{8}, 8)...) // PKCS#7 of 8 bytes
		ct := make([]byte, 16)
		cipher.NewCBCEncrypter(block, make([]byte, 16)).CryptBlocks(ct, plain)
		v := (binary.BigEndian.Uint64(ct[8:16]) & 0xFFFFFFFFFF) % 10000000000
		puks = append(puks, fmt.Sprintf("%010d", v))
	}
	return code, puks
}

func TestRecoveryDerivationMatchesWultra(t *testing.T) {
	secret := bytes.Repeat([]byte{0x42}, 32)
	info, err := GenerateRecovery(secret, 5)
	if err != nil {
		t.Fatal(err)
	}
	code, puks := javaRecovery(t, secret, info.Seed.Nonce, info.Seed.PUKDerivationIndexes)
	if string(info.Code) != code {
		t.Fatalf("code %s, Wultra's construction gives %s", info.Code, code)
	}
	if _, err := ValidateActivationCode(code); err != nil {
		t.Fatalf("the recovery code is not a valid activation code: %v", err)
	}
	for i := range puks {
		if string(info.PUKs[i]) != puks[i] {
			t.Fatalf("PUK %d = %s, Wultra's construction gives %s", i+1, info.PUKs[i], puks[i])
		}
	}
	again, err := DeriveRecovery(secret, info.Seed)
	if err != nil || again.Code != info.Code || fmt.Sprint(again.PUKs) != fmt.Sprint(info.PUKs) {
		t.Fatalf("DeriveRecovery = %+v, %v; want %+v", again, err, info)
	}
	// Another secret (another printing service) derives another code.
	other, _ := DeriveRecovery(bytes.Repeat([]byte{0x43}, 32), info.Seed)
	if other.Code == info.Code {
		t.Fatal("the code does not depend on the shared secret")
	}
	seen := map[PUK]bool{}
	for _, p := range info.PUKs {
		if seen[p] {
			t.Fatalf("duplicate PUK %s", p)
		}
		seen[p] = true
	}
}

func TestPostcardKeyIsSymmetric(t *testing.T) {
	a, _ := GeneratePrivateKey()
	b, _ := GeneratePrivateKey()
	k1, err1 := PostcardKey(a, b.PublicKey())
	k2, err2 := PostcardKey(b, a.PublicKey())
	if err1 != nil || err2 != nil || len(k1) != 32 || !bytes.Equal(k1, k2) {
		t.Fatalf("ECDH %x / %x (%v %v)", k1, k2, err1, err2)
	}
}

func TestValidatePUKAndRecoveryCode(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"123456789", false}, {"12345678901", false}, {"12345 67890", false}, {"123456789a", false}, {"١٢٣٤٥٦٧٨٩٠", false},
		{"1234-567890", false}, {"", false},
		{"0123456789", true}, {"12345-67890", true},
	} {
		p, err := ValidatePUK(tc.in)
		if (err == nil) != tc.ok || (tc.ok && strings.Contains(string(p), "-")) {
			t.Errorf("ValidatePUK(%q) = %q, %v", tc.in, p, err)
		}
	}
	for _, tc := range []struct {
		in, want string
	}{
		{"R:W65WE-3T7VI-7FBS2-A4OYA", "W65WE-3T7VI-7FBS2-A4OYA"},
		{"r:w65we-3t7vi-7fbs2-a4oya", "W65WE-3T7VI-7FBS2-A4OYA"},
		{" W65WE-3T7VI-7FBS2-A4OYA ", "W65WE-3T7VI-7FBS2-A4OYA"},
		{"R:W65WE-3T7VI-7FBS2-A4OYB", ""}, {"X:W65WE-3T7VI-7FBS2-A4OYA", ""}, {"R:", ""},
	} {
		got, err := ParseRecoveryCode(tc.in)
		if string(got) != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("ParseRecoveryCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseRecovery(f *testing.F) {
	for _, s := range []string{"R:W65WE-3T7VI-7FBS2-A4OYA", "W65WE-3T7VI-7FBS2-A4OYA", "0123456789", "12345-67890"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseRecoveryCode(s); err == nil {
			if _, err := ValidateActivationCode(string(c)); err != nil {
				t.Fatalf("ParseRecoveryCode(%q) accepted an invalid code %q", s, c)
			}
		}
		if p, err := ValidatePUK(s); err == nil && len(p) != PUKLength {
			t.Fatalf("ValidatePUK(%q) = %q", s, p)
		}
	})
}
