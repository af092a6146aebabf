package config

import (
	"strings"
	"testing"
)

func TestWebConfig(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.UserVerification != "preferred" || c.PasscodeMaxFailures != 3 || c.Argon2MemoryKiB != 19456 ||
		c.Argon2Time != 2 || c.Argon2Threads != 1 || c.WebAuthnTimeout.Minutes() != 5 || len(c.WebReturnURLs) != 0 {
		t.Fatalf("web defaults: %+v", c)
	}
	c, err = Load([]string{
		"SIGNET_WEBAUTHN_USER_VERIFICATION=sometimes",
		"SIGNET_WEBAUTHN_TIMEOUT=1s",
		"SIGNET_PASSCODE_MAX_FAILURES=0",
		"SIGNET_ARGON2_MEMORY_KIB=64",
		"SIGNET_ARGON2_TIME=0",
		"SIGNET_ARGON2_THREADS=0",
		"SIGNET_WEB_RETURN_URLS=https://bank.example/sca/,http://bank.example/cb,https://bank.example/x?y=1",
		"SIGNET_WEB_OPENER_ORIGINS=https://bank.example,https://bank.example/path",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"SIGNET_WEBAUTHN_USER_VERIFICATION", "SIGNET_WEBAUTHN_TIMEOUT", "SIGNET_PASSCODE_MAX_FAILURES",
		"SIGNET_ARGON2_MEMORY_KIB", "SIGNET_ARGON2_TIME", "SIGNET_ARGON2_THREADS", `"http://bank.example/cb"`,
		`"https://bank.example/x?y=1"`, `"https://bank.example/path"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"https://bank.example/sca/"`) || strings.Contains(err.Error(), `"https://bank.example" `) {
		t.Errorf("valid entries reported:\n%v", err)
	}
	c, _ = Load([]string{"SIGNET_WEB_RETURN_URLS=http://localhost:3000/done", "SIGNET_WEBAUTHN_USER_VERIFICATION=required"})
	if err := c.Validate(); err != nil {
		t.Fatalf("localhost return URL and required UV: %v", err)
	}
}

// TestBrandConfig: SIGNET_BRAND_* problems are reported by Validate with the others, and a valid
// brand loads through Config.Brand.
func TestBrandConfig(t *testing.T) {
	c, _ := Load([]string{"SIGNET_BRAND_PRIMARY_COLOR=#ffff00", "SIGNET_BRAND_SUPPORT_URL=http://bank.example/help",
		"SIGNET_BRAND_LOGO=/nonexistent/logo.png", "SIGNET_PASSCODE_MAX_FAILURES=0"})
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"SIGNET_BRAND_PRIMARY_COLOR #ffff00 has a contrast of 1.07:1", "SIGNET_BRAND_SUPPORT_URL", "SIGNET_BRAND_LOGO", "SIGNET_PASSCODE_MAX_FAILURES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %s in:\n%v", want, err)
		}
	}
	c, _ = Load([]string{"SIGNET_BRAND_NAME=Horská Banka", "SIGNET_BRAND_PRIMARY_COLOR=#005A3C", "SIGNET_BRAND_SUPPORT_URL=https://bank.example/help"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := c.Brand()
	if err != nil || b.Name != "Horská Banka" || b.Primary != "#005a3c" || b.SupportURL != "https://bank.example/help" {
		t.Fatalf("%+v %v", b, err)
	}
	if c, _ := Load(nil); c.BrandName != "" || c.BrandLogo != "" || c.BrandPrimaryColor != "" {
		t.Fatalf("brand defaults are not neutral: %+v", c)
	}
}
