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
	for _, bad := range []string{"noseparator", ":secret-0123456789abc", "a:short", "a:0123456789abcdef,a:0123456789abcdeg"} {
		if _, err := ParseAPIKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	k, err := ParseAPIKeys("a:0123456789abcdef, b:fedcba9876543210:with-colon")
	if err != nil || len(k) != 2 || k[1].Secret != "fedcba9876543210:with-colon" {
		t.Fatalf("%v %v", k, err)
	}
	if s := k[0].String(); strings.Contains(s, "0123") {
		t.Fatalf("secret printed: %s", s)
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
