package powerauth

import (
	"errors"
	"strings"
	"testing"
)

// hs256JWT signs a compact JWS from raw header and claims JSON, so tests can send what an SDK might.
func hs256JWT(key []byte, header, claims string) string {
	in := jwtEnc.EncodeToString([]byte(header)) + "." + jwtEnc.EncodeToString([]byte(claims))
	return in + "." + jwtEnc.EncodeToString(hmacSHA256(key, []byte(in)))
}

const survivorClaims = `{"applicationKey":"AAAAAAAAAAAAAAAAAAAAAA==","challenge":"abc","iat_ms":1700000000000`

// TestTemporaryKeyRequestJWTHeader shows which JOSE headers the request JWT of /pa/v3/keystore/create may
// carry (RFC 7515 §4.1.1 alg, §4.1.9 typ is optional; PowerAuth 3.3, End-To-End Encryption, "Temporary
// Encryption Keys"): alg HS256 with typ "JWT" or no typ verifies; another typ or a second JSON value after
// the header object is refused with the reason, so a header cannot smuggle a second alg past the parser.
func TestTemporaryKeyRequestJWTHeader(t *testing.T) {
	key := []byte("0123456789abcdef")
	claims := survivorClaims + `}`
	tests := []struct {
		name    string
		header  string
		wantErr string // "" = verifies; else the start of the reason
	}{
		{"typ JOSE", `{"alg":"HS256","typ":"JOSE"}`, "header must be alg HS256"},
		{"typ jwt in lower case", `{"alg":"HS256","typ":"jwt"}`, "header must be alg HS256"},
		{"second object after the header", `{"alg":"HS256"}{"alg":"none"}`, "header: trailing data"},
		{"trailing value", `{"alg":"HS256","typ":"JWT"} 1`, "header: trailing data"},
		{"alg of the wrong type", `{"alg":1}`, "header: json: cannot unmarshal number"},
		{"typ JWT", `{"alg":"HS256","typ":"JWT"}`, ""},
		{"no typ", `{"alg":"HS256"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := VerifyTemporaryKeyRequest(hs256JWT(key, tc.header, claims), key)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidJWT) || !strings.HasPrefix(err.Error(), ErrInvalidJWT.Error()+": "+tc.wantErr) {
					t.Fatalf("want ErrInvalidJWT %q, got %v", tc.wantErr, err)
				}
				return
			}
			if err != nil || got.Challenge != "abc" || got.IssuedAtMs != 1700000000000 {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// TestTemporaryKeyRequestJWTLengthBound shows that a request JWT of exactly maxJWTLength characters is
// read and verified and one character more is refused as too long, before any decoding.
func TestTemporaryKeyRequestJWTLengthBound(t *testing.T) {
	key := []byte("0123456789abcdef")
	ofLength := func(n int) string {
		for pad := n*3/4 - 200; pad < n; pad++ {
			for spaces := 0; spaces < 3; spaces++ {
				tok := hs256JWT(key, `{"alg":"HS256"`+strings.Repeat(" ", spaces)+`}`, survivorClaims+`,"pad":"`+strings.Repeat("x", pad)+`"}`)
				if len(tok) == n {
					return tok
				}
			}
		}
		t.Fatalf("no token of %d characters", n)
		return ""
	}
	if _, err := VerifyTemporaryKeyRequest(ofLength(maxJWTLength), key); err != nil {
		t.Fatalf("token of exactly maxJWTLength: %v", err)
	}
	_, err := VerifyTemporaryKeyRequest(ofLength(maxJWTLength+1), key)
	if !errors.Is(err, ErrInvalidJWT) || err.Error() != ErrInvalidJWT.Error()+": too long" {
		t.Fatalf("token of maxJWTLength+1: want too long, got %v", err)
	}
}

// TestTemporaryKeyRequestChallengeLength shows that the request's challenge is 1–256 characters, both ends
// included (the SDK sends a random base64 challenge well inside that range).
func TestTemporaryKeyRequestChallengeLength(t *testing.T) {
	key := []byte("0123456789abcdef")
	for _, n := range []int{1, 256} {
		req := TemporaryKeyRequest{ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==", Challenge: strings.Repeat("c", n), IssuedAtMs: 1}
		tok, err := SignTemporaryKeyRequest(key, req)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := VerifyTemporaryKeyRequest(tok, key); err != nil || got != req {
			t.Fatalf("challenge of %d characters: got %+v, %v", n, got, err)
		}
	}
	for _, n := range []int{0, 257} {
		tok, err := SignTemporaryKeyRequest(key, TemporaryKeyRequest{ApplicationKey: "AAAAAAAAAAAAAAAAAAAAAA==", Challenge: strings.Repeat("c", n)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyTemporaryKeyRequest(tok, key); !errors.Is(err, ErrInvalidJWT) || err.Error() != ErrInvalidJWT.Error()+": challenge" {
			t.Fatalf("challenge of %d characters: want refused as challenge, got %v", n, err)
		}
	}
}
