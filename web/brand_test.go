package web

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A 1×1 PNG.
var pngLogo, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYPj/HwADAgH/kZ5yJQAAAABJRU5ErkJggg==")

func TestLoadBrand(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	svg := `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect width="10" height="10"/></svg>`
	for _, tc := range []struct {
		name    string
		in      BrandConfig
		wantErr []string // substrings; none: valid
		check   func(t *testing.T, b Brand)
	}{
		{"primary colour too light for white text", BrandConfig{PrimaryColor: "#7fb2e5"}, []string{"SIGNET_BRAND_PRIMARY_COLOR #7fb2e5 has a contrast of"}, nil},
		{"colour not #rrggbb", BrandConfig{PrimaryColor: "navy", BackgroundColor: "#fff"}, []string{"SIGNET_BRAND_PRIMARY_COLOR must be", "SIGNET_BRAND_BACKGROUND_COLOR must be"}, nil},
		{"support link over http", BrandConfig{SupportURL: "http://bank.example/help"}, []string{"SIGNET_BRAND_SUPPORT_URL"}, nil},
		{"name with a control character", BrandConfig{Name: "Bank\u0007"}, []string{"SIGNET_BRAND_NAME"}, nil},
		{"logo file missing", BrandConfig{Logo: filepath.Join(dir, "none.png")}, []string{"SIGNET_BRAND_LOGO"}, nil},
		{"logo that is HTML", BrandConfig{Logo: file("x.png", []byte("<html><script>alert(1)</script>"))}, []string{"must be a PNG"}, nil},
		{"logo data URL lying about its type", BrandConfig{Logo: "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(pngLogo)}, []string{"declared image/jpeg but the content is image/png"}, nil},
		{"logo data URL not base64", BrandConfig{Logo: "data:image/png,abc"}, []string{"data:<image type>;base64"}, nil},
		{"logo too large", BrandConfig{Logo: file("big.png", append(append([]byte{}, pngLogo...), make([]byte, MaxLogoBytes)...))}, []string{"larger than"}, nil},
		{"every problem at once", BrandConfig{PrimaryColor: "#ffffff", SupportURL: "ftp://x", Logo: "data:text/plain;base64,aGk="},
			[]string{"SIGNET_BRAND_PRIMARY_COLOR", "SIGNET_BRAND_SUPPORT_URL", "SIGNET_BRAND_LOGO"}, nil},
		{"neutral default", BrandConfig{}, nil, func(t *testing.T, b Brand) {
			if b.Name != "" || b.Logo != nil || b.Primary != "" || b.SupportURL != "" {
				t.Fatalf("%+v", b)
			}
		}},
		{"full brand from a PNG file", BrandConfig{Name: " Česká Banka ", Logo: file("logo.png", pngLogo), PrimaryColor: "#005A3C",
			BackgroundColor: "#eef3f1", SupportURL: "https://bank.example/help"}, nil, func(t *testing.T, b Brand) {
			if b.Name != "Česká Banka" || b.LogoType != "image/png" || len(b.Logo) != len(pngLogo) || b.SupportURL != "https://bank.example/help" {
				t.Fatalf("%+v", b)
			}
			css := string(b.CSS())
			for _, want := range []string{"--primary: #005a3c;", "--primary-hover: #00432d;", "--bg: #eef3f1;"} {
				if !strings.Contains(css, want) {
					t.Errorf("CSS lacks %q:\n%s", want, css)
				}
			}
		}},
		{"SVG logo from a data URL", BrandConfig{Logo: "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg))}, nil, func(t *testing.T, b Brand) {
			if b.LogoType != "image/svg+xml" || string(b.Logo) != svg {
				t.Fatalf("%s %q", b.LogoType, b.Logo)
			}
		}},
		{"SVG logo file", BrandConfig{Logo: file("logo.svg", []byte(svg))}, nil, func(t *testing.T, b Brand) {
			if b.LogoType != "image/svg+xml" {
				t.Fatalf("%s", b.LogoType)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := LoadBrand(tc.in)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, b)
				return
			}
			if err == nil {
				t.Fatalf("accepted %+v", tc.in)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestContrast checks the WCAG formula on known pairs.
func TestContrast(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{{"#000000", "#ffffff", 21}, {"#ffffff", "#ffffff", 1}, {"#595959", "#ffffff", 7.00}, {"#767676", "#ffffff", 4.54}} {
		a, _ := parseHexColor(tc.a)
		b, _ := parseHexColor(tc.b)
		if got := contrast(a, b); got < tc.want-0.01 || got > tc.want+0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}
