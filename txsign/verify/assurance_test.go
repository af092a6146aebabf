package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign/replay"
)

// TestAssurance: issue 13 §4. The class is decided from amr (RFC 8176) by PSD2 RTS Art. 4
// categories; an acr claim never raises it.
func TestAssurance(t *testing.T) {
	tests := []struct {
		name string
		amr  []string
		acr  string
		want string
	}{
		// Attacks and weak tokens first.
		{"device key alone (possession)", []string{"hwk"}, ACR1FA, ACR1FA},
		{"device key alone claiming sca", []string{"hwk"}, ACRSCA, ACR1FA},
		{"PowerAuth possession only", []string{"swk"}, ACR1FA, ACR1FA},
		{"two possession elements are one category", []string{"hwk", "swk", "sc"}, ACRSCA, ACR1FA},
		{"mfa names no element", []string{"hwk", "mfa"}, ACRSCA, ACR1FA},
		{"user presence is not inherence", []string{"hwk", "user"}, ACRSCA, ACR1FA},
		{"risk-based and geolocation are not elements", []string{"rba", "geo", "wia"}, ACRSCA, ""},
		{"no amr", nil, ACRSCA, ""},
		{"acr 1fa lowers a two-factor amr", []string{"swk", "pin"}, ACR1FA, ACR1FA},
		// What Signet mints for SCA (txsign, webauthn, activation).
		{"passkey and passcode", []string{"hwk", "pin", "mfa"}, ACRSCA, ACRSCA},
		{"synced passkey and passcode", []string{"swk", "pin", "mfa"}, ACRSCA, ACRSCA},
		{"PowerAuth possession and knowledge", []string{"swk", "pin"}, ACRSCA, ACRSCA},
		{"PowerAuth possession and biometry", []string{"swk", "fpt"}, ACRSCA, ACRSCA},
		{"unknown acr is ignored", []string{"swk", "pin"}, "urn:other:gold", ACRSCA},
		{"no acr", []string{"pwd", "face"}, "", ACRSCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Claims{AMR: tt.amr, ACR: tt.acr}
			if got := c.Assurance(); got != tt.want {
				t.Fatalf("Assurance() = %q, want %q", got, tt.want)
			}
			err := c.CheckAuthentication(ACRSCA)
			if (tt.want == ACRSCA) != (err == nil) {
				t.Fatalf("CheckAuthentication(sca) = %v", err)
			}
			if err != nil && !errors.Is(err, ErrInsufficientAuthentication) {
				t.Fatalf("refusal %v is not ErrInsufficientAuthentication", err)
			}
			if err := c.CheckAuthentication(ACR1FA); (tt.want != "") != (err == nil) {
				t.Fatalf("CheckAuthentication(1fa) = %v", err)
			}
		})
	}
}

func TestParseACR(t *testing.T) {
	for in, want := range map[string]string{"sca": ACRSCA, "SCA": ACRSCA, ACRSCA: ACRSCA, "1fa": ACR1FA, ACR1FA: ACR1FA, "gold": "", "": ""} {
		got, err := ParseACR(in)
		if got != want || (err == nil) != (want != "") {
			t.Errorf("ParseACR(%q) = %q, %v", in, got, err)
		}
	}
}

// TestMiddlewareRequiresAuthentication: a payment (a middleware with a binding) needs SCA by
// default; a refused token is not burned; WithACR(ACR1FA) is the explicit way to accept one
// factor.
func TestMiddlewareRequiresAuthentication(t *testing.T) {
	c := newClock()
	s := newSigner(t, "k1")
	store := replay.NewMemory(c.Now)
	v, err := New(Config{Keys: StaticKeys{"k1": &s.key.PublicKey}, Issuer: testIssuer, Audience: testAudience,
		Replay: store, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(t *testing.T, amr []string, acr string) string {
		cl := validClaims(t, c.Now())
		cl.AMR, cl.ACR = amr, acr
		if err := store.Record(context.Background(), cl.ID, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		return s.mint(t, cl, nil)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	payment := Middleware(v, WithBinding(paymentBinding))(ok)
	onePayment := Middleware(v, WithBinding(paymentBinding), WithACR(ACR1FA))(ok)
	login := Middleware(v)(ok)
	strictLogin := Middleware(v, WithACR(ACRSCA))(ok)
	deviceKey := mint(t, []string{"hwk"}, ACR1FA)
	tests := []struct {
		name   string
		h      http.Handler
		token  string
		status int
		code   string
	}{
		{"device-key approval pays nothing by default", payment, deviceKey, 403, "insufficient_authentication"},
		{"an sca acr does not lift a one-factor amr", payment, mint(t, []string{"hwk", "mfa"}, ACRSCA), 403, "insufficient_authentication"},
		{"a login route asked for SCA", strictLogin, mint(t, []string{"swk"}, ACR1FA), 403, "insufficient_authentication"},
		{"no factor at all", login, mint(t, []string{"mfa"}, ""), 403, "insufficient_authentication"},
		{"the refused device-key token was not burned: a 1fa route takes it", onePayment, deviceKey, 204, ""},
		{"SCA pays", payment, mint(t, []string{"swk", "pin"}, ACRSCA), 204, ""},
		{"one factor logs in", login, mint(t, []string{"hwk"}, ACR1FA), 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/payments", strings.NewReader(goodPayment))
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" {
				var p Problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code != tt.code {
					t.Fatalf("problem %s, want code %s", rec.Body, tt.code)
				}
			}
		})
	}
}
