package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/ratelimit"
)

func TestRateLimitAndRetentionSettings(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimitAddress != (ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 50}) ||
		c.RateLimitOperation != (ratelimit.Limit{Rate: 10, Period: time.Minute, Burst: 10}) ||
		c.RateLimitCode != (ratelimit.Limit{Rate: 5, Period: time.Minute, Burst: 5}) ||
		c.RateLimitJWKS.Off() || c.AuditRetention != 60 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v", c)
	}

	// Every bad value is reported, by name.
	_, err = Load([]string{"SIGNET_RATE_LIMIT_ADDRESS=fast", "SIGNET_RATE_LIMIT_CODE=5/ms", "SIGNET_AUDIT_RETENTION=forever"})
	for _, want := range []string{`RateLimitAddress`, `RateLimitCode`, `AuditRetention`} { // env names the field
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %v; want it to name %s", err, want)
		}
	}
	c, err = Load([]string{"SIGNET_TRUSTED_PROXIES=10.0.0.0/8,not-a-net,fd00::1", "SIGNET_AUDIT_RETENTION=12mo"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	for _, want := range []string{`SIGNET_TRUSTED_PROXIES: "not-a-net"`, "SIGNET_AUDIT_RETENTION must be at least 13mo"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v; want %q", err, want)
		}
	}

	// Positive control.
	c, err = Load([]string{"SIGNET_TRUSTED_PROXIES=10.0.0.0/8, 192.0.2.7 ,fd00::1", "SIGNET_AUDIT_RETENTION=18mo",
		"SIGNET_RATE_LIMIT_JWKS=off", "SIGNET_RATE_LIMIT_OPERATION=20/1m:5"})
	if err != nil || c.Validate() != nil {
		t.Fatalf("valid settings refused: %v / %v", err, c.Validate())
	}
	p, _ := ParseTrustedProxies(c.TrustedProxies)
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::1/128")}
	if len(p) != 3 || p[0] != want[0] || p[1] != want[1] || p[2] != want[2] {
		t.Errorf("trusted proxies %v; want %v", p, want)
	}
	if c.AuditRetention != 18 || !c.RateLimitJWKS.Off() || c.RateLimitOperation != (ratelimit.Limit{Rate: 20, Period: time.Minute, Burst: 5}) {
		t.Errorf("parsed %+v", c)
	}
}
