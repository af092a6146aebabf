package webauthn

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

var (
	spcTestOp         = store.Operation{PayeeName: "Alza.cz a.s.", Amount: "1250.00", Currency: "CZK"}
	spcTestInstrument = SPCInstrument{DisplayName: "Bank account", Icon: "https://sca.bank.example/web/static/spc-icon.png"}
	spcTestCDJ        = `{"type":"payment.get","challenge":"AAAA","origin":"https://sca.bank.example","crossOrigin":false,` +
		`"payment":{"rpId":"sca.bank.example","topOrigin":"https://sca.bank.example","payeeName":"Alza.cz a.s.",` +
		`"paymentEntitiesLogos":[],"total":{"value":"1250.00","currency":"CZK"},` +
		`"instrument":{"icon":"https://sca.bank.example/web/static/spc-icon.png","displayName":"Bank account"}}}`
)

func spcTestService() *Service {
	return &Service{cfg: Config{RPID: "sca.bank.example", RPOrigins: []string{"https://sca.bank.example"}}}
}

func spcParsed(cdj []byte) *protocol.ParsedCredentialAssertionData {
	p := &protocol.ParsedCredentialAssertionData{}
	p.Raw.AssertionResponse.ClientDataJSON = cdj
	_ = json.Unmarshal(cdj, &p.Response.CollectedClientData)
	return p
}

// FuzzSPCClientData: the clientDataJSON of an SPC assertion is untrusted
// input. Whatever it is, parsing never panics, leaves the raw bytes (which
// the signature covers) untouched, and only a client data equal to the
// operation in payee, total and instrument passes checkSPC.
func FuzzSPCClientData(f *testing.F) {
	f.Add([]byte(spcTestCDJ))
	for i := 0; i < len(spcTestCDJ)*8; i += 61 {
		c := []byte(spcTestCDJ)
		c[i/8] ^= 1 << (i % 8)
		f.Add(c)
	}
	f.Add([]byte(strings.Replace(spcTestCDJ, `"1250.00"`, `"1250.00","value":"1.00"`, 1))) // a duplicate key: the last wins in Go
	s := spcTestService()
	f.Fuzz(func(t *testing.T, cdj []byte) {
		p := spcParsed(cdj)
		before := string(p.Raw.AssertionResponse.ClientDataJSON)
		cp, pay, err := spcAssertion(p)
		if string(p.Raw.AssertionResponse.ClientDataJSON) != before {
			t.Fatal("raw clientDataJSON changed")
		}
		if err != nil {
			return
		}
		if cp.Response.CollectedClientData.Type != protocol.AssertCeremony || string(cp.Raw.AssertionResponse.ClientDataJSON) != before {
			t.Fatalf("copy %+v", cp.Response.CollectedClientData)
		}
		if _, err := s.checkSPC(spcTestOp, spcTestInstrument, pay); err != nil {
			return
		}
		if *pay.PayeeName != spcTestOp.PayeeName || pay.Total.Value != spcTestOp.Amount || pay.Total.Currency != spcTestOp.Currency ||
			*pay.Instrument != spcTestInstrument || pay.PayeeOrigin != nil {
			t.Fatalf("accepted %+v", pay)
		}
	})
}

// TestPasskeyOnlyNeedsMetadata: naming passkey-only operation types without
// the authenticator models allowed is a configuration error, not a policy
// that lets every passkey through.
func TestPasskeyOnlyNeedsMetadata(t *testing.T) {
	cfg := Config{RPID: "localhost", RPOrigins: []string{"http://localhost:8080"}, PublicURL: "http://localhost:8080",
		PasskeyOnlyTypes: []string{"login"}}
	if _, err := New(nil, nil, nil, nil, cfg); err == nil || !strings.Contains(err.Error(), "authenticator models allowed") {
		t.Fatalf("err %v", err)
	}
	cfg.PasskeyOnlyTypes = nil
	if _, err := New(nil, nil, nil, nil, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestSPCAssertion: spcAssertion accepts only a clientDataJSON that is JSON of
// type "payment.get" (SPC "Verifying an Authentication Assertion", step
// "C.type is payment.get") with a payment member holding rpId, topOrigin,
// total and instrument; anything else proves no possession
// (txsign.ErrPossessionNotProven) with its reason. Through FinishApproval the
// first two are never reached (the library parses the same clientDataJSON
// and isSPCAssertion reads its type first), so they are shown here. An
// accepted one is returned with its payment member and a copy of the parsed
// assertion typed "webauthn.get", the raw bytes untouched.
func TestSPCAssertion(t *testing.T) {
	const notPayment = "possession not proven: clientDataJSON is not a payment.get client data"
	const incomplete = "possession not proven: clientDataJSON has no complete payment member"
	drop := func(member string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(spcTestCDJ), &m)
		delete(m["payment"].(map[string]any), member)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct{ name, cdj, err string }{
		{"not JSON", `{"type":"payment.get",`, notPayment},
		{"type webauthn.get", strings.Replace(spcTestCDJ, `"payment.get"`, `"webauthn.get"`, 1), notPayment},
		{"no payment member", strings.Replace(spcTestCDJ, `"payment":`, `"paymentX":`, 1), incomplete},
		{"no rpId", drop("rpId"), incomplete},
		{"no topOrigin", drop("topOrigin"), incomplete},
		{"no total", drop("total"), incomplete},
		{"no instrument", drop("instrument"), incomplete},
		{"control: complete", spcTestCDJ, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parsed := spcParsed([]byte(tc.cdj))
			cp, p, err := spcAssertion(parsed)
			if tc.err != "" {
				if !errors.Is(err, txsign.ErrPossessionNotProven) || err.Error() != tc.err || cp != nil || p != (collectedPaymentData{}) {
					t.Fatalf("got %v %+v, %v; want %q", cp, p, err, tc.err)
				}
				return
			}
			if err != nil || cp == nil || cp == parsed || cp.Response.CollectedClientData.Type != protocol.AssertCeremony ||
				string(cp.Raw.AssertionResponse.ClientDataJSON) != tc.cdj || string(parsed.Response.CollectedClientData.Type) != "payment.get" {
				t.Fatalf("control: %v, %+v", err, cp)
			}
			if *p.RPID != "sca.bank.example" || *p.TopOrigin != "https://sca.bank.example" || *p.PayeeName != spcTestOp.PayeeName ||
				p.PayeeOrigin != nil || *p.Total != (SPCAmount{Currency: "CZK", Value: "1250.00"}) || *p.Instrument != spcTestInstrument {
				t.Fatalf("payment %+v", p)
			}
		})
	}
}

// TestCheckSPC: checkSPC refuses with errSPCMismatch naming, in order, every
// field of what the browser showed that is not what this ceremony offered
// (SPC "Verifying an Authentication Assertion": rpId, topOrigin,
// payeeName/payeeOrigin, total, instrument), and returns what was shown when
// all match.
func TestCheckSPC(t *testing.T) {
	str := func(s string) *string { return &s }
	good := func() collectedPaymentData {
		return collectedPaymentData{RPID: str("sca.bank.example"), TopOrigin: str("https://sca.bank.example"),
			PayeeName: str(spcTestOp.PayeeName), Total: &SPCAmount{Currency: "CZK", Value: "1250.00"}, Instrument: &spcTestInstrument}
	}
	tests := []struct {
		name string
		edit func(*collectedPaymentData)
		bad  string
	}{
		{"rpId", func(p *collectedPaymentData) { p.RPID = str("bank.example") }, "rpId"},
		{"topOrigin", func(p *collectedPaymentData) { p.TopOrigin = str("https://evil.example") }, "topOrigin"},
		{"payeeName other", func(p *collectedPaymentData) { p.PayeeName = str("Mallory") }, "payeeName"},
		{"payeeName absent", func(p *collectedPaymentData) { p.PayeeName = nil }, "payeeName"},
		{"payeeOrigin present", func(p *collectedPaymentData) { p.PayeeOrigin = str("https://shop.example") }, "payeeOrigin"},
		{"total value", func(p *collectedPaymentData) { p.Total = &SPCAmount{Currency: "CZK", Value: "1250.0"} }, "total"},
		{"total currency", func(p *collectedPaymentData) { p.Total = &SPCAmount{Currency: "EUR", Value: "1250.00"} }, "total"},
		{"instrument", func(p *collectedPaymentData) { p.Instrument = &SPCInstrument{DisplayName: "Bank account", Icon: "x"} }, "instrument"},
		{"all", func(p *collectedPaymentData) {
			p.RPID, p.TopOrigin, p.PayeeName, p.PayeeOrigin = str("x"), str("x"), nil, str("x")
			p.Total, p.Instrument = &SPCAmount{}, &SPCInstrument{}
		}, "rpId, topOrigin, payeeName, payeeOrigin, total, instrument"},
		{"control: exactly the operation", func(*collectedPaymentData) {}, ""},
	}
	s := spcTestService()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := good()
			tc.edit(&p)
			shown, err := s.checkSPC(spcTestOp, spcTestInstrument, p)
			if tc.bad != "" {
				want := "secure payment confirmation: what the browser showed is not the operation: " + tc.bad + " differ"
				if !errors.Is(err, errSPCMismatch) || err.Error() != want || shown != nil {
					t.Fatalf("got %v, %v; want %q", shown, err, want)
				}
				return
			}
			if err != nil || len(shown) != 4 || shown["payee_name"] != spcTestOp.PayeeName || shown["total"] != (SPCAmount{Currency: "CZK", Value: "1250.00"}) ||
				shown["instrument"] != "Bank account" || shown["top_origin"] != "https://sca.bank.example" {
				t.Fatalf("control: %v, %v", shown, err)
			}
		})
	}
}
