package webauthn

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/signet-sca/signet/store"
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
