package powerauth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSignatureType(t *testing.T) {
	tests := []struct {
		in      string
		want    SignatureType
		factors int
		counts  bool
		wantErr bool
	}{
		{in: "", wantErr: true},
		{in: "knowledge_biometry", wantErr: true},
		{in: "possession knowledge", wantErr: true},
		{in: "possession_knowledge_", wantErr: true},
		{in: "possession", want: SignaturePossession, factors: 1},
		{in: "POSSESSION_KNOWLEDGE", want: SignaturePossessionKnowledge, factors: 2, counts: true},
		{in: "possession_biometry", want: SignaturePossessionBiometry, factors: 2, counts: true},
		{in: "possession_knowledge_biometry", want: SignaturePossessionKnowledgeBiometry, factors: 3, counts: true},
		{in: "knowledge", want: SignatureKnowledge, factors: 1, counts: true},
		{in: "biometry", want: SignatureBiometry, factors: 1, counts: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSignatureType(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidSignatureType) {
					t.Fatalf("want ErrInvalidSignatureType, got %v", err)
				}
				return
			}
			if err != nil || got != tc.want || got.Factors() != tc.factors || got.CountsFailedAttempts() != tc.counts {
				t.Fatalf("got %v (%d factors, counts %v), %v", got, got.Factors(), got.CountsFailedAttempts(), err)
			}
			if got.String() != strings.ToLower(tc.in) {
				t.Fatalf("String() = %q", got.String())
			}
		})
	}
}

func TestSignatureData(t *testing.T) {
	nonce := []byte("0123456789abcdef")
	got := string(SignatureData("post", "/pa/signature/validate", nonce, []byte(`{"a":1}`), "c2VjcmV0c2VjcmV0c2VjcmV0"))
	want := "POST&L3BhL3NpZ25hdHVyZS92YWxpZGF0ZQ==&MDEyMzQ1Njc4OWFiY2RlZg==&eyJhIjoxfQ==&c2VjcmV0c2VjcmV0c2VjcmV0"
	if got != want {
		t.Fatalf("got %s", got)
	}
	if got := SignatureBaseString("", "/x", nil, nil); got != "GET&L3g=&&" {
		t.Fatalf("empty parts: %s", got)
	}
}

func TestCanonicalQueryString(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "a=%zz", wantErr: true},
		{in: "", want: ""},
		{in: "b=2&a=1", want: "a=1&b=2"},
		{in: "a=2&a=1&novalue&c=", want: "a=1&a=2&c="},
		{in: "q=hello+world&p=%7E*", want: "p=%7E*&q=hello+world"},
		{in: "k=%C3%A9", want: "k=%C3%A9"},
		// java.net.URLEncoder keeps exactly A-Z a-z 0-9 . - * _: each range's ends kept, their neighbours escaped.
		{in: "k=azAZ09.-*_%60%7B%40%5B%2F%3A", want: "k=azAZ09.-*_%60%7B%40%5B%2F%3A"},
	}
	for _, tc := range tests {
		got, err := CanonicalQueryString(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: want error", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CanonicalQueryString(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSignatureFormats(t *testing.T) {
	for _, n := range []int{-1, 0, 3, 9} {
		if _, err := DecimalFormat(n); err == nil {
			t.Errorf("DecimalFormat(%d) accepted", n)
		}
	}
	if _, err := OnlineSignatureFormat(Version(29)); err == nil {
		t.Error("version 2.9 accepted")
	}
	keys := testSignatureKeys()
	var ctr CounterData
	for _, tc := range []struct {
		f    SignatureFormat
		t    SignatureType
		want int // length of the rendered signature
	}{
		{FormatDecimal, SignaturePossession, 8},
		{FormatDecimal, SignaturePossessionKnowledgeBiometry, 26},
		{SignatureFormat(4), SignaturePossessionKnowledge, 9},
		{FormatBase64, SignaturePossession, 24},
		{FormatBase64, SignaturePossessionKnowledge, 44},
		{FormatBase64, SignaturePossessionKnowledgeBiometry, 64},
	} {
		s, err := ComputeSignature([]byte("data"), keys, tc.t, ctr, tc.f)
		if err != nil || len(s) != tc.want {
			t.Errorf("%v/%d: %q, %v", tc.t, tc.f, s, err)
		}
	}
	if _, err := ComputeSignature(nil, keys, SignatureType(6), ctr, FormatBase64); !errors.Is(err, ErrInvalidSignatureType) {
		t.Errorf("knowledge_biometry accepted: %v", err)
	}
	if _, err := ComputeSignature(nil, keys, SignaturePossession, ctr, SignatureFormat(3)); err == nil {
		t.Error("3-digit format accepted")
	}
}

func testSignatureKeys() SignatureKeys {
	return SignatureKeys{Possession: SignatureKey{1}, Knowledge: SignatureKey{2}, Biometry: SignatureKey{3}}
}

// TestSignatureLookahead plays a client that is some signatures ahead of the server.
func TestSignatureLookahead(t *testing.T) {
	keys := testSignatureKeys()
	serverCtr, err := NewCounterData()
	if err != nil {
		t.Fatal(err)
	}
	const serverCounter = 41
	data := SignatureData("POST", "/operation/authorize", []byte("nonce-nonce-1234"), []byte("{}"), "YXBwc2VjcmV0YXBwc2VjcmV0")
	tests := []struct {
		name    string
		ahead   int
		typ     SignatureType
		mutate  func(string) string
		wantErr error
	}{
		{name: "beyond window by one", ahead: DefaultLookahead, typ: SignaturePossessionKnowledge, wantErr: ErrSignatureMismatch},
		{name: "far beyond window", ahead: 35, typ: SignaturePossession, wantErr: ErrSignatureMismatch},
		{name: "wrong factor key", ahead: 0, typ: SignaturePossessionBiometry, mutate: func(s string) string {
			return s[:len(s)-24] + strings.Repeat("A", 22) + "=="
		}, wantErr: ErrSignatureMismatch},
		{name: "empty signature", ahead: 0, typ: SignaturePossession, mutate: func(string) string { return "" }, wantErr: ErrSignatureMismatch},
		{name: "in step", ahead: 0, typ: SignaturePossession},
		{name: "five ahead", ahead: 5, typ: SignaturePossessionKnowledge},
		{name: "last in window", ahead: DefaultLookahead - 1, typ: SignaturePossessionKnowledgeBiometry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clientCtr := serverCtr
			for range tc.ahead {
				clientCtr = clientCtr.Next()
			}
			sig, err := ComputeSignature(data, keys, tc.typ, clientCtr, FormatBase64)
			if err != nil {
				t.Fatal(err)
			}
			if tc.mutate != nil {
				sig = tc.mutate(sig)
			}
			m, err := VerifySignature(SignatureVerification{Data: data, Signature: sig, Type: tc.typ,
				Format: FormatBase64, Keys: keys, Counter: serverCounter, CounterData: serverCtr})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("want %v, got %v", tc.wantErr, err)
				}
				if m != (CounterMatch{}) {
					t.Fatalf("a failure must not advance the counter: %+v", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Offset != tc.ahead || m.NextCounter != serverCounter+int64(tc.ahead)+1 || !m.NextCounterData.Equal(clientCtr.Next()) {
				t.Fatalf("match %+v", m)
			}
			// After storing the match, the next client signature verifies at offset 0 and the same one is
			// a replay that no longer matches in step.
			next, _ := ComputeSignature(data, keys, tc.typ, clientCtr.Next(), FormatBase64)
			m2, err := VerifySignature(SignatureVerification{Data: data, Signature: next, Type: tc.typ,
				Format: FormatBase64, Keys: keys, Counter: m.NextCounter, CounterData: m.NextCounterData})
			if err != nil || m2.Offset != 0 {
				t.Fatalf("next signature: %+v %v", m2, err)
			}
			if _, err := VerifySignature(SignatureVerification{Data: data, Signature: sig, Type: tc.typ,
				Format: FormatBase64, Keys: keys, Counter: m.NextCounter, CounterData: m.NextCounterData, Lookahead: 1}); err == nil {
				t.Fatal("replayed signature verified in step")
			}
		})
	}
	if _, err := VerifySignature(SignatureVerification{Type: SignaturePossession, Counter: -1}); err == nil {
		t.Fatal("negative counter accepted")
	}
}

// TestFactorMismatch: a multi-factor signature whose possession component verifies but whose knowledge
// (or biometry) component does not is a wrong PIN (ErrFactorMismatch, counted by callers); one whose
// possession component does not verify proves nothing about the user (plain ErrSignatureMismatch).
func TestFactorMismatch(t *testing.T) {
	keys := testSignatureKeys()
	ctr, _ := NewCounterData()
	data := SignatureData("POST", "/operation/authorize", []byte("nonce-nonce-1234"), []byte("{}"), "YXBwc2VjcmV0YXBwc2VjcmV0")
	wrongPIN, wrongDevice := keys, keys
	wrongPIN.Knowledge, wrongPIN.Biometry = SignatureKey{9}, SignatureKey{9}
	wrongDevice.Possession = SignatureKey{9}
	tests := []struct {
		name   string
		signer SignatureKeys
		typ    SignatureType
		format SignatureFormat
		ahead  int
		want   error // nil: verifies
		factor bool  // errors.Is(err, ErrFactorMismatch)
	}{
		{"wrong device, right PIN", wrongDevice, SignaturePossessionKnowledge, FormatBase64, 0, ErrSignatureMismatch, false},
		{"wrong device, right PIN, decimal", wrongDevice, SignaturePossessionKnowledge, FormatDecimal, 0, ErrSignatureMismatch, false},
		{"wrong device, possession only", wrongDevice, SignaturePossession, FormatBase64, 0, ErrSignatureMismatch, false},
		{"right device beyond the window, wrong PIN", wrongPIN, SignaturePossessionKnowledge, FormatBase64, DefaultLookahead, ErrSignatureMismatch, false},
		{"right device, wrong PIN", wrongPIN, SignaturePossessionKnowledge, FormatBase64, 0, ErrFactorMismatch, true},
		{"right device, wrong PIN, decimal, 3 ahead", wrongPIN, SignaturePossessionKnowledge, FormatDecimal, 3, ErrFactorMismatch, true},
		{"right device, wrong biometry", wrongPIN, SignaturePossessionBiometry, FormatBase64, 0, ErrFactorMismatch, true},
		{"right device, right PIN", keys, SignaturePossessionKnowledge, FormatBase64, 0, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ctr
			for range tc.ahead {
				c = c.Next()
			}
			sig, err := ComputeSignature(data, tc.signer, tc.typ, c, tc.format)
			if err != nil {
				t.Fatal(err)
			}
			_, err = VerifySignature(SignatureVerification{Data: data, Signature: sig, Type: tc.typ, Format: tc.format,
				Keys: keys, Counter: 7, CounterData: ctr})
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) || errors.Is(err, ErrFactorMismatch) != tc.factor {
				t.Fatalf("got %v, want %v (factor mismatch %v)", err, tc.want, tc.factor)
			}
		})
	}
}

func TestStatusBlob(t *testing.T) {
	tk := TransportKey{9, 8, 7}
	challenge, nonce := []byte("challenge-16byte"), []byte("nonce-16-bytes!!")
	ctr, err := NewCounterData()
	if err != nil {
		t.Fatal(err)
	}
	blob := NewStatusBlob(StatusActive, 300, ctr, tk, 1, 5, 20)
	if blob.CtrByte != 44 {
		t.Fatalf("ctr byte %d", blob.CtrByte)
	}
	ct, err := blob.Encrypt(tk, challenge, nonce)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecryptStatusBlob(tk, challenge, nonce, ct)
	if err != nil || got != blob {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	behind := ctr
	if d, ok := got.CounterDistance(behind, tk, 0); !ok || d != 0 {
		t.Fatalf("distance %d %v", d, ok)
	}
	if _, ok := got.CounterDistance(ctr.Next(), tk, 64); ok {
		t.Fatal("a local counter ahead of the server matched")
	}
	if _, err := DecryptStatusBlob(TransportKey{1}, challenge, nonce, ct); !errors.Is(err, ErrInvalidStatusBlob) {
		t.Fatalf("wrong key: %v", err)
	}
	if _, err := blob.Encrypt(tk, challenge[:15], nonce); !errors.Is(err, ErrInvalidStatusBlob) {
		t.Fatalf("short challenge: %v", err)
	}
	valid, _ := blob.Marshal()
	tests := []struct {
		name   string
		mutate func([]byte)
	}{
		{"magic", func(p []byte) { p[0] = 0 }},
		{"format 0", func(p []byte) { p[3] = 0xD0 }},
		{"status 0", func(p []byte) { p[4] = 0 }},
		{"status 6", func(p []byte) { p[4] = 6 }},
		{"look-ahead 0", func(p []byte) { p[15] = 0 }},
		{"look-ahead 65", func(p []byte) { p[15] = 65 }},
	}
	for _, tc := range tests {
		p := append([]byte(nil), valid...)
		tc.mutate(p)
		if _, err := UnmarshalStatusBlob(p); !errors.Is(err, ErrInvalidStatusBlob) {
			t.Errorf("%s accepted: %v", tc.name, err)
		}
	}
	valid[3] = 0xD2 // a later format version is still accepted by the header check
	if _, err := UnmarshalStatusBlob(valid); err != nil {
		t.Fatal(err)
	}
}
