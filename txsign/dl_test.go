package txsign

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"
)

// dlVector is one entry of the JSON block under "## Test vectors" in docs/dynamic-linking.md.
type dlVector struct {
	Name         string `json:"name"`
	Note         string `json:"note"`
	ID           string `json:"id"`
	Type         string `json:"type"`
	PayeeAccount string `json:"payee_account"`
	PayeeName    string `json:"payee_name"`
	Amount       string `json:"amount"`
	Currency     string `json:"currency"`
	Nonce        string `json:"nonce"`
	ExpiresAt    int64  `json:"expires_at"`
	PreimageHex  string `json:"preimage_hex"`
	DL           string `json:"dl"`
	Reject       string `json:"reject"`
}

func (v dlVector) input() DLInput {
	return DLInput{
		ID: v.ID, Type: v.Type, PayeeAccount: v.PayeeAccount, PayeeName: v.PayeeName,
		Amount: v.Amount, Currency: v.Currency, Nonce: v.Nonce, ExpiresAt: time.Unix(v.ExpiresAt, 0),
	}
}

const dlSpecPath = "../docs/dynamic-linking.md"

// readDLVectors extracts the single ```json block of the "## Test vectors" section.
func readDLVectors(t *testing.T) []dlVector {
	t.Helper()
	f, err := os.Open(dlSpecPath)
	if err != nil {
		t.Fatalf("the spec must sit next to the code: %v", err)
	}
	defer f.Close()
	var (
		inSection, inBlock bool
		blocks             int
		buf                bytes.Buffer
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBlock && strings.HasPrefix(line, "```"):
			inBlock = false
		case inBlock:
			buf.WriteString(line)
			buf.WriteByte('\n')
		case strings.HasPrefix(line, "## "):
			inSection = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Test vectors"
		case inSection && strings.TrimSpace(line) == "```json":
			inBlock = true
			blocks++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if blocks != 1 || inBlock {
		t.Fatalf("want exactly one closed ```json block under \"## Test vectors\", found %d", blocks)
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var vs []dlVector
	if err := dec.Decode(&vs); err != nil {
		t.Fatalf("test vectors: %v", err)
	}
	return vs
}

func TestDLSpecVectors(t *testing.T) {
	vs := readDLVectors(t)
	if len(vs) < 6 {
		t.Fatalf("the spec must publish at least 6 vectors, has %d", len(vs))
	}
	var sawJPY, sawBHD, sawDecomposed, sawEmpty bool
	names := map[string]bool{}
	for _, v := range vs {
		t.Run(v.Name, func(t *testing.T) {
			if v.Name == "" || names[v.Name] {
				t.Fatalf("vector names must be unique and non-empty: %q", v.Name)
			}
			names[v.Name] = true
			in := v.input()
			if got := hex.EncodeToString(DLPreimage(in)); got != v.PreimageHex {
				t.Errorf("preimage\n got %s\nwant %s", got, v.PreimageHex)
			}
			dl := ComputeDL(in)
			if got := EncodeDigest(dl); got != v.DL {
				t.Errorf("dl = %s; want %s", got, v.DL)
			}
			if got := EncodeDigest(RejectDigest(dl)); got != v.Reject {
				t.Errorf("reject = %s; want %s", got, v.Reject)
			}
			if d, err := DecodeDigest(v.DL); err != nil || d != dl {
				t.Errorf("DecodeDigest(%s) = %x, %v", v.DL, d, err)
			}
			// Vectors must show canonical amounts: a published vector with "1.5" EUR would
			// teach implementers to hash the wrong thing.
			if v.Currency != "" {
				if c, err := CanonicalAmount(v.Amount, v.Currency); err != nil || c != v.Amount {
					t.Errorf("amount %q %s is not canonical (%q, %v)", v.Amount, v.Currency, c, err)
				}
			}
			// Likewise the payee: a vector must hold an account Signet would store and a name
			// it would accept (the decomposed-name vector is NFC once canonicalised).
			if v.PayeeAccount != "" {
				if c, err := NormalizeAccount(v.PayeeAccount); err != nil || c != v.PayeeAccount {
					t.Errorf("account %q is not canonical (%q, %v)", v.PayeeAccount, c, err)
				}
			}
			if v.PayeeName != "" {
				if c, err := CanonicalPayeeName(v.PayeeName); err != nil || c != norm.NFC.String(v.PayeeName) {
					t.Errorf("name %q is not acceptable (%q, %v)", v.PayeeName, c, err)
				}
			}
		})
		switch {
		case v.Currency == "JPY":
			sawJPY = true
		case v.Currency == "BHD":
			sawBHD = true
		}
		if !norm.NFC.IsNormalString(v.PayeeName) {
			sawDecomposed = true
		}
		if v.PayeeAccount == "" || v.PayeeName == "" || v.Amount == "" {
			sawEmpty = true
		}
	}
	if !sawJPY || !sawBHD || !sawDecomposed || !sawEmpty {
		t.Errorf("vectors must cover JPY (%v), BHD (%v), a decomposed name (%v), empty fields (%v)", sawJPY, sawBHD, sawDecomposed, sawEmpty)
	}
}

func TestComputeDLNFC(t *testing.T) {
	base := DLInput{ID: "op_1", Type: "payment", PayeeAccount: "AT611904300234573201", Amount: "1.00", Currency: "EUR", Nonce: "n", ExpiresAt: time.Unix(1767225600, 0)}
	composed, decomposed := base, base
	composed.PayeeName = "Caf\u00e9"
	decomposed.PayeeName = "Cafe\u0301"
	if ComputeDL(composed) != ComputeDL(decomposed) {
		t.Fatal("NFC-equivalent names must give the same DL")
	}
}

// TestComputeDLFieldSplitsNeverCollide moves bytes across every pair of adjacent fields and
// checks that the digest changes: the length prefixes make the encoding injective.
func TestComputeDLFieldSplitsNeverCollide(t *testing.T) {
	t.Run("named example", func(t *testing.T) {
		a := DLInput{PayeeAccount: "c", PayeeName: "ab"}
		b := DLInput{PayeeAccount: "bc", PayeeName: "a"}
		if ComputeDL(a) == ComputeDL(b) {
			t.Fatal("payee name \"ab\" + account \"c\" collides with \"a\" + \"bc\"")
		}
		c := DLInput{PayeeAccount: "ab", PayeeName: "c"}
		d := DLInput{PayeeAccount: "a", PayeeName: "bc"}
		if ComputeDL(c) == ComputeDL(d) {
			t.Fatal("account \"ab\" + name \"c\" collides with \"a\" + \"bc\"")
		}
	})
	t.Run("every split of one byte string", func(t *testing.T) {
		// Seven text fields: distribute "abcdef\x00\x00\x00\x04" over them in every way a cut
		// can fall, including bytes that look like a length prefix.
		const s = "abcdef\x00\x00\x00\x04"
		seen := map[[DigestSize]byte]string{}
		var rec func(fields []string, rest string)
		rec = func(fields []string, rest string) {
			if len(fields) == 6 {
				fields = append(fields, rest)
				in := DLInput{ID: fields[0], Type: fields[1], PayeeAccount: fields[2], PayeeName: fields[3], Amount: fields[4], Currency: fields[5], Nonce: fields[6], ExpiresAt: time.Unix(0, 0)}
				key := strings.Join(fields, "|")
				d := ComputeDL(in)
				if prev, ok := seen[d]; ok {
					t.Fatalf("collision: %q and %q", prev, key)
				}
				seen[d] = key
				return
			}
			for i := 0; i <= len(rest); i++ {
				rec(append(fields[:len(fields):len(fields)], rest[:i]), rest[i:])
			}
		}
		rec(nil, s)
		if len(seen) < 1000 {
			t.Fatalf("only %d splits tried", len(seen))
		}
	})
	t.Run("each field changes the digest", func(t *testing.T) {
		base := DLInput{ID: "op", Type: "payment", PayeeAccount: "acct", PayeeName: "name", Amount: "1.00", Currency: "EUR", Nonce: "nonce", ExpiresAt: time.Unix(1767225600, 0)}
		ref := ComputeDL(base)
		mutations := map[string]func(*DLInput){
			"id":         func(in *DLInput) { in.ID += "x" },
			"type":       func(in *DLInput) { in.Type = "login" },
			"account":    func(in *DLInput) { in.PayeeAccount += "x" },
			"name":       func(in *DLInput) { in.PayeeName += "x" },
			"amount":     func(in *DLInput) { in.Amount = "1.01" },
			"currency":   func(in *DLInput) { in.Currency = "USD" },
			"nonce":      func(in *DLInput) { in.Nonce += "x" },
			"expires_at": func(in *DLInput) { in.ExpiresAt = in.ExpiresAt.Add(time.Second) },
		}
		for name, mutate := range mutations {
			in := base
			mutate(&in)
			if ComputeDL(in) == ref {
				t.Errorf("changing %s does not change DL", name)
			}
		}
		// Sub-second precision is not part of the digest (the expiry is whole seconds).
		in := base
		in.ExpiresAt = in.ExpiresAt.Add(999 * time.Millisecond)
		if ComputeDL(in) != ref {
			t.Error("sub-second expiry changed DL")
		}
	})
}

func TestRejectDigestDiffersFromDL(t *testing.T) {
	dl := ComputeDL(DLInput{ID: "op", Type: "payment"})
	if RejectDigest(dl) == dl {
		t.Fatal("reject digest equals DL")
	}
}

func TestDecodeDigest(t *testing.T) {
	valid := EncodeDigest(ComputeDL(DLInput{ID: "x"}))
	tests := []struct {
		name, in string
		ok       bool
	}{
		{name: "empty", in: ""},
		{name: "padded", in: valid + "="},
		{name: "short", in: valid[:42]},
		{name: "long", in: valid + "A"},
		{name: "std alphabet", in: "+" + valid[1:]},
		{name: "non-canonical final bits", in: valid[:42] + string(digestNonCanonicalLast(valid[42]))},
		{name: "valid", in: valid, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeDigest(tt.in)
			if tt.ok != (err == nil) {
				t.Fatalf("DecodeDigest(%q) = %v; want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadDigest) {
				t.Fatalf("error %v is not ErrBadDigest", err)
			}
		})
	}
}

// nonCanonicalLast returns a base64url character that differs from c only in the two low bits
// that a 32-byte value leaves unused in its 43rd character.
func digestNonCanonicalLast(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return alphabet[i|1]
}

func FuzzDecodeDigest(f *testing.F) {
	valid := EncodeDigest(ComputeDL(DLInput{ID: "seed"}))
	f.Add(valid)
	for i := 0; i < len(valid); i++ {
		b := []byte(valid)
		b[i] ^= 1
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeDigest(s)
		if err != nil {
			return
		}
		if EncodeDigest(d) != s {
			t.Fatalf("accepted non-canonical %q", s)
		}
	})
}
