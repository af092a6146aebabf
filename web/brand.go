package web

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode"
)

// Brand is how the hosted pages present the bank: its name in the tab title
// and heading, its logo, its colours and a support link. The zero Brand is
// neutral: no bank name, no logo, Signet's default colours, no support link.
type Brand struct {
	Name string
	// Logo is the image the pages show (served by Signet at /web/brand/logo,
	// so the strict CSP's img-src 'self' allows it), LogoType its media type.
	Logo     []byte
	LogoType string
	// Primary colours buttons and links (white text sits on it);
	// Background is the page behind the card. "#rrggbb" or "".
	Primary    string
	Background string
	// SupportURL is the bank's help page, linked from every page.
	SupportURL string
}

// BrandConfig is the brand as configured (SIGNET_BRAND_*).
type BrandConfig struct {
	Name            string // SIGNET_BRAND_NAME
	Logo            string // SIGNET_BRAND_LOGO: a file path or a data: URL
	PrimaryColor    string // SIGNET_BRAND_PRIMARY_COLOR
	BackgroundColor string // SIGNET_BRAND_BACKGROUND_COLOR
	SupportURL      string // SIGNET_BRAND_SUPPORT_URL
}

// MaxLogoBytes bounds the logo (it is held in memory and sent with every page view).
const MaxLogoBytes = 256 << 10

// logoTypes are the image types a logo may have; an SVG is only ever drawn
// through <img> (no script runs there) and served under the pages' CSP.
var logoTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/webp": true, "image/gif": true, "image/svg+xml": true}

// minButtonContrast is WCAG 2.2 SC 1.4.3's 4.5:1 for the white button text on the primary colour.
const minButtonContrast = 4.5

// LoadBrand validates a brand configuration and loads its logo, reporting every problem at once.
func LoadBrand(c BrandConfig) (Brand, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	b := Brand{Name: strings.TrimSpace(c.Name), Primary: strings.ToLower(c.PrimaryColor),
		Background: strings.ToLower(c.BackgroundColor), SupportURL: c.SupportURL}
	if len([]rune(b.Name)) > 80 || strings.IndexFunc(b.Name, unicode.IsControl) >= 0 {
		bad("SIGNET_BRAND_NAME must be at most 80 characters without control characters")
	}
	if c.Logo != "" {
		var err error
		if b.Logo, b.LogoType, err = loadLogo(c.Logo); err != nil {
			bad("SIGNET_BRAND_LOGO: %v", err)
		}
	}
	if b.Primary != "" {
		if rgb, ok := parseHexColor(b.Primary); !ok {
			bad("SIGNET_BRAND_PRIMARY_COLOR must be a colour #rrggbb")
		} else if r := contrast(rgb, [3]float64{255, 255, 255}); r < minButtonContrast {
			bad("SIGNET_BRAND_PRIMARY_COLOR %s has a contrast of %.2f:1 with the white button text; at least %.1f:1 is needed (WCAG 2.2 SC 1.4.3)",
				b.Primary, r, minButtonContrast)
		}
	}
	if b.Background != "" {
		if _, ok := parseHexColor(b.Background); !ok {
			bad("SIGNET_BRAND_BACKGROUND_COLOR must be a colour #rrggbb")
		}
	}
	if b.SupportURL != "" {
		u, err := url.Parse(b.SupportURL)
		local := u != nil && (u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1" || u.Hostname() == "::1")
		if err != nil || u.Host == "" || u.User != nil || !(u.Scheme == "https" || (u.Scheme == "http" && local)) {
			bad("SIGNET_BRAND_SUPPORT_URL must be an https URL (http only for localhost)")
		}
	}
	return b, errors.Join(errs...)
}

// loadLogo reads a logo from a data: URL (RFC 2397, base64) or a file.
func loadLogo(ref string) ([]byte, string, error) {
	var (
		b      []byte
		claims string
	)
	if rest, ok := strings.CutPrefix(ref, "data:"); ok {
		meta, data, found := strings.Cut(rest, ",")
		mt, isB64 := strings.CutSuffix(meta, ";base64")
		if !found || !isB64 {
			return nil, "", errors.New("a data URL must be data:<image type>;base64,<data>")
		}
		if len(data) > base64.StdEncoding.EncodedLen(MaxLogoBytes) {
			return nil, "", fmt.Errorf("larger than %d bytes", MaxLogoBytes)
		}
		var err error
		if b, err = base64.StdEncoding.DecodeString(data); err != nil {
			return nil, "", errors.New("the data URL is not valid base64")
		}
		claims = strings.ToLower(mt)
	} else {
		st, err := os.Stat(ref)
		if err != nil {
			return nil, "", err
		}
		if st.Size() > MaxLogoBytes {
			return nil, "", fmt.Errorf("%s is larger than %d bytes", ref, MaxLogoBytes)
		}
		if b, err = os.ReadFile(ref); err != nil {
			return nil, "", err
		}
		if strings.HasSuffix(strings.ToLower(ref), ".svg") {
			claims = "image/svg+xml"
		}
	}
	if len(b) == 0 || len(b) > MaxLogoBytes {
		return nil, "", fmt.Errorf("must be 1 to %d bytes", MaxLogoBytes)
	}
	// The content decides for raster images (what a browser would sniff);
	// SVG is text, so its declared type (data URL or .svg name) plus an <svg element decide.
	ct := http.DetectContentType(b)
	if claims == "image/svg+xml" || (ct != "" && strings.HasPrefix(ct, "text/")) {
		if claims != "image/svg+xml" || !strings.Contains(string(b), "<svg") {
			return nil, "", errors.New("must be a PNG, JPEG, WebP, GIF or SVG image")
		}
		ct = "image/svg+xml"
	}
	if !logoTypes[ct] {
		return nil, "", errors.New("must be a PNG, JPEG, WebP, GIF or SVG image")
	}
	if claims != "" && claims != ct {
		return nil, "", fmt.Errorf("declared %s but the content is %s", claims, ct)
	}
	return b, ct, nil
}

func parseHexColor(s string) ([3]float64, bool) {
	if len(s) != 7 || s[0] != '#' {
		return [3]float64{}, false
	}
	var rgb [3]float64
	for i := range 3 {
		v, err := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		if err != nil {
			return [3]float64{}, false
		}
		rgb[i] = float64(v)
	}
	return rgb, true
}

// contrast is the WCAG 2.2 contrast ratio of two sRGB colours (relative luminance, §"contrast ratio").
func contrast(a, b [3]float64) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(rgb [3]float64) float64 {
	var l [3]float64
	for i, v := range rgb {
		c := v / 255
		if c <= 0.04045 {
			l[i] = c / 12.92
		} else {
			l[i] = math.Pow((c+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// CSS is the stylesheet that applies the brand's colours over app.css
// (served as /web/brand.css: the CSP allows no inline style).
func (b Brand) CSS() []byte {
	var s strings.Builder
	s.WriteString("/* Brand colours (SIGNET_BRAND_*). */\n:root {\n")
	if rgb, ok := parseHexColor(b.Primary); ok {
		fmt.Fprintf(&s, "  --primary: %s;\n  --primary-hover: %s;\n", b.Primary, darker(rgb))
	}
	if _, ok := parseHexColor(b.Background); ok {
		fmt.Fprintf(&s, "  --bg: %s;\n", b.Background)
	}
	s.WriteString("}\n")
	return []byte(s.String())
}

// darker is the hover shade: 25 % towards black (more contrast with white, never less).
func darker(rgb [3]float64) string {
	return fmt.Sprintf("#%02x%02x%02x", int(rgb[0]*0.75), int(rgb[1]*0.75), int(rgb[2]*0.75))
}
