package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const kek = "q0wLxGSEGpW1G1tx2d0k1m3vP9V0hP4a0bB5l3P6yS8="

func TestDefaultsAreEmbedded(t *testing.T) {
	c, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.DatabaseURL != "./data/signet.db" || !c.Embedded() || c.TokenTTL != 120*time.Second ||
		c.WebhookRetention != 7*24*time.Hour {
		t.Fatalf("defaults: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("embedded defaults must validate: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c, err := Load([]string{
		"SIGNET_DATABASE_URL=postgres://x/y",
		"SIGNET_TOKEN_TTL=10m",
		"SIGNET_RP_ORIGINS=http://ok.example,not an origin",
		"SIGNET_LOG_FORMAT=xml",
		"SIGNET_REDIS_URL=http://nope",
		"SIGNET_ISSUER=relative",
		"SIGNET_WEBHOOK_RETENTION=3h",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"SIGNET_TOKEN_TTL", "SIGNET_RP_ORIGINS", "SIGNET_LOG_FORMAT", "SIGNET_REDIS_URL",
		"SIGNET_ISSUER", "SIGNET_API_KEYS is required", "SIGNET_KEK is required", "SIGNET_WEBHOOK_RETENTION must be at least 24h"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	kekFile := filepath.Join(dir, "kek")
	os.WriteFile(keys, []byte("bank:0123456789abcdef0123\n"), 0o600)
	os.WriteFile(kekFile, []byte(kek+"\n"), 0o600)
	c, err := Load([]string{"SIGNET_API_KEYS_FILE=" + keys, "SIGNET_KEK_FILE=" + kekFile, "SIGNET_DATABASE_URL=postgres://h/db"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	k, _ := ParseAPIKeys(c.APIKeys)
	if len(k) != 1 || k[0].Name != "bank" || k[0].Secret != "0123456789abcdef0123" {
		t.Fatalf("keys %v", k)
	}
	if _, err := Load([]string{"SIGNET_KEK=" + kek, "SIGNET_KEK_FILE=" + kekFile}); err == nil {
		t.Fatal("both value and _FILE must be refused")
	}
	if _, err := Load([]string{"SIGNET_KEK_FILE=" + filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("a missing file must be an error")
	}
}

func TestParseAPIKeys(t *testing.T) {
	refused := []struct{ in, why string }{
		{"noseparator", "not name:secret"},
		{":secret-0123456789abc", "not name:secret"},
		{"a:short", "shorter than 16"},
		{"a:0123456789abcdef,a:0123456789abcdeg", "appears twice"},
		{"b:fedcba9876543210:with-colon", "may not contain ':'"}, // accepted as a secret before scopes
		{"b:fedcba9876543210:admin:x", "may not contain ':'"},
		{"b:fedcba9876543210:Admin", "must be consume, bank or admin"},
		{"b:fedcba9876543210:", "must be consume, bank or admin"},
		{"b:0123456789:admin", "shorter than 16"},
	}
	for _, tc := range refused {
		_, err := ParseAPIKeys(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("%q: %v; want an error containing %q", tc.in, err, tc.why)
		}
		if err != nil && strings.Contains(err.Error(), "fedcba") {
			t.Errorf("%q: the error prints the secret: %v", tc.in, err)
		}
	}
	k, err := ParseAPIKeys("a:0123456789abcdef, gw:fedcba9876543210:consume,ops:0123456789abcdeg:admin,b:0123456789abcdeh:bank")
	if err != nil || len(k) != 4 {
		t.Fatalf("%v %v", k, err)
	}
	want := []APIKey{{"a", "0123456789abcdef", ScopeBank}, {"gw", "fedcba9876543210", ScopeConsume},
		{"ops", "0123456789abcdeg", ScopeAdmin}, {"b", "0123456789abcdeh", ScopeBank}}
	for i := range want {
		if k[i] != want[i] {
			t.Errorf("key %d = %#v; want %#v", i, k[i], want[i])
		}
	}
	if s := k[0].String(); strings.Contains(s, "0123") {
		t.Fatalf("secret printed: %s", s)
	}
}

func TestScopesNest(t *testing.T) {
	for _, tc := range []struct {
		key, need Scope
		ok        bool
	}{
		{ScopeConsume, ScopeBank, false},
		{ScopeConsume, ScopeAdmin, false},
		{ScopeBank, ScopeAdmin, false},
		{ScopeAdmin, 0, false}, // a route without a declared scope admits nobody
		{ScopeConsume, ScopeConsume, true},
		{ScopeBank, ScopeConsume, true},
		{ScopeAdmin, ScopeBank, true},
		{ScopeAdmin, ScopeAdmin, true},
	} {
		if got := tc.key.Allows(tc.need); got != tc.ok {
			t.Errorf("%s allows %s = %v", tc.key, tc.need, got)
		}
	}
}

func TestParseKEKs(t *testing.T) {
	for _, bad := range []string{"!!!", "AAAA", kek + ",short"} {
		if _, err := ParseKEKs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if k, err := ParseKEKs(kek + "," + kek); err != nil || len(k) != 2 || len(k[0]) != 32 {
		t.Fatal(k, err)
	}
}

func TestAdminAddr(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     []string
		want    string
		problem string
	}{
		{"not host:port", []string{"SIGNET_ADMIN_ADDR=9090"}, "9090", "SIGNET_ADMIN_ADDR must be host:port"},
		{"the public listener", []string{"SIGNET_ADMIN_ADDR=:8080"}, ":8080", "must differ from SIGNET_HTTP_ADDR"},
		{"embedded default: loopback", nil, "127.0.0.1:9090", ""},
		{"embedded, off", []string{"SIGNET_ADMIN_ADDR=off"}, "", ""},
		{"production default: none", []string{"SIGNET_DATABASE_URL=postgres://h/db", "SIGNET_REDIS_URL=redis://r:6379/0"}, "", ""},
		{"production, set", []string{"SIGNET_DATABASE_URL=postgres://h/db", "SIGNET_ADMIN_ADDR=:9090"}, ":9090", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if c.AdminAddr != tc.want {
				t.Errorf("AdminAddr = %q; want %q", c.AdminAddr, tc.want)
			}
			err = c.Validate()
			if tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)) {
				t.Errorf("Validate: %v; want %q", err, tc.problem)
			}
			if tc.problem == "" && err != nil && strings.Contains(err.Error(), "SIGNET_ADMIN_ADDR") {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	for url, want := range map[string]bool{"http://localhost:8080": false, "https://signet.example": true, "HTTPS://signet.example": true} {
		if got := (Config{PublicURL: url}).HTTPS(); got != want {
			t.Errorf("%s: HTTPS() = %v", url, got)
		}
	}
}

func TestParseWaitAOF(t *testing.T) {
	for _, bad := range []string{"1", "1,0,1s,x", "2,0", "-1,0", "x,0", "0,-1", "0,17", "0,0", "1,0,0", "1,0,5ms", "1,0,11s", "1,0,soon"} {
		if w, err := ParseWaitAOF(bad); err == nil {
			t.Errorf("%q accepted: %+v", bad, w)
		}
	}
	for in, want := range map[string]WaitAOF{
		"":            {},
		"1,0":         {Local: 1, Timeout: 2 * time.Second},
		"0,1":         {Replicas: 1, Timeout: 2 * time.Second},
		" 1, 2, 50ms": {Local: 1, Replicas: 2, Timeout: 50 * time.Millisecond},
	} {
		if w, err := ParseWaitAOF(in); err != nil || w != want {
			t.Errorf("%q = %+v, %v; want %+v", in, w, err, want)
		}
	}
	c, _ := Load([]string{"SIGNET_REDIS_CONSUME_WAITAOF=1,0"})
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "needs SIGNET_REDIS_URL") {
		t.Fatalf("WAITAOF without Redis: %v", err)
	}
}

func TestDatabaseURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string // want: a fragment of the error, "" = accepted
	}{
		{"postgress://postgres@db:5432/signet", `unknown scheme "postgress"`},
		{"mysql://root@localhost/signet", `unknown scheme "mysql"`},
		{"POSTGRES://postgres@db/signet", `unknown scheme "POSTGRES"`},
		{"postgres:postgres@db/signet", "starts postgres://"},
		{"postgres://", "names no host"},
		{"postgres://postgres@db:5432/signet?sslmode=disable", ""},
		{"postgresql://postgres@127.0.0.1/test", ""},
		{"postgres:///signet?host=/var/run/postgresql", ""},
		{"sqlite:///var/lib/signet/signet.db", ""},
		{"sqlite:data/signet.db", ""},
		{"file:data/signet.db?cache=shared", ""},
		{"./data/signet.db", ""},
		{"/var/lib/signet/signet.db", ""},
		{"signet.db", ""},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg, err := Load([]string{"SIGNET_DATABASE_URL=" + tc.url, "SIGNET_API_KEYS=bank:0123456789abcdef0123", "SIGNET_KEK=" + kek})
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestListenAddressMovesLocalURLs(t *testing.T) {
	t.Run("embedded: the defaults follow the port", func(t *testing.T) {
		cfg, err := Load([]string{"SIGNET_HTTP_ADDR=127.0.0.1:9090"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Issuer != "http://localhost:9090" || cfg.PublicURL != "http://localhost:9090" ||
			len(cfg.RPOrigins) != 1 || cfg.RPOrigins[0] != "http://localhost:9090" {
			t.Fatalf("issuer %s, public URL %s, origins %v", cfg.Issuer, cfg.PublicURL, cfg.RPOrigins)
		}
		if w := cfg.AddressWarnings(); len(w) != 0 {
			t.Fatalf("warnings: %v", w)
		}
	})
	t.Run("explicit values are kept and warned about", func(t *testing.T) {
		cfg, err := Load([]string{"SIGNET_HTTP_ADDR=:9090", "SIGNET_ISSUER=http://localhost:8080"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Issuer != "http://localhost:8080" || cfg.RPOrigins[0] != "http://localhost:9090" {
			t.Fatalf("issuer %s, origins %v", cfg.Issuer, cfg.RPOrigins)
		}
		w := cfg.AddressWarnings()
		if len(w) != 2 || !strings.Contains(w[0], "SIGNET_ISSUER") || !strings.Contains(w[1], "SIGNET_PUBLIC_URL") {
			t.Fatalf("warnings: %q", w)
		}
	})
	t.Run("production: no derivation; a real host name is not checked", func(t *testing.T) {
		cfg, err := Load([]string{"SIGNET_HTTP_ADDR=:9090", "SIGNET_DATABASE_URL=postgres://db/signet",
			"SIGNET_ISSUER=https://sca.bank.example", "SIGNET_RP_ORIGINS=https://bank.example"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Issuer != "https://sca.bank.example" {
			t.Fatal(cfg.Issuer)
		}
		if w := cfg.AddressWarnings(); len(w) != 0 {
			t.Fatalf("warnings: %v", w)
		}
	})
	t.Run("production on loopback with the wrong port is warned about", func(t *testing.T) {
		cfg, err := Load([]string{"SIGNET_HTTP_ADDR=:9090", "SIGNET_DATABASE_URL=postgres://db/signet"})
		if err != nil {
			t.Fatal(err)
		}
		if w := cfg.AddressWarnings(); len(w) != 3 {
			t.Fatalf("warnings: %q", w)
		}
	})
}
