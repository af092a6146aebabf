package main

import (
	"testing"

	"github.com/signet-sca/signet/web"
	"github.com/signet-sca/signet/webauthn"
)

func TestSPCInstrument(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rpName string
		brand  web.Brand
		want   webauthn.SPCInstrument
	}{
		{"an SVG logo gives way to the card icon", "Signet", web.Brand{Name: "Acme Bank", Logo: []byte("<svg/>"), LogoType: "image/svg+xml"},
			webauthn.SPCInstrument{DisplayName: "Acme Bank", Icon: "https://sca.bank.example/web/static/spc-icon.png"}},
		{"no brand: the RP name and the card icon", "Acme RP", web.Brand{},
			webauthn.SPCInstrument{DisplayName: "Acme RP", Icon: "https://sca.bank.example/web/static/spc-icon.png"}},
		{"nothing named: Signet", "", web.Brand{},
			webauthn.SPCInstrument{DisplayName: "Signet", Icon: "https://sca.bank.example/web/static/spc-icon.png"}},
		{"the brand's raster logo", "Signet", web.Brand{Name: "Acme Bank", Logo: []byte("\x89PNG"), LogoType: "image/png"},
			webauthn.SPCInstrument{DisplayName: "Acme Bank", Icon: "https://sca.bank.example/web/brand/logo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := spcInstrument("https://sca.bank.example/", tc.rpName, tc.brand); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
