package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/signet-sca/signet/config"
)

// ensureEmbeddedSecrets fills in the API key and KEK in embedded mode when
// they are not configured: generated once, persisted (0600) in the data
// directory, reused on later starts. The API key is printed when it is created.
func ensureEmbeddedSecrets(cfg *config.Config, out io.Writer) error {
	if !cfg.Embedded() {
		return nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if cfg.APIKeys == "" {
		path := filepath.Join(cfg.DataDir, "api-key")
		v, created, err := readOrCreate(path, func() string { return "admin:" + randomB64(24) + ":admin" })
		if err != nil {
			return err
		}
		if strings.Count(v, ":") == 1 {
			// Written before keys had scopes: the one key of an embedded instance is its operator's.
			v += ":admin"
		}
		cfg.APIKeys = v
		if created {
			fmt.Fprintf(out, "\nSignet generated an API key for the private API (embedded mode, scope admin); it is kept in %s:\n\n    %s\n\n"+
				"Use it as \"Authorization: Bearer %s\".\n\n", path, v, strings.Split(v, ":")[1])
		} else {
			fmt.Fprintf(out, "Signet: private API key (embedded mode) is in %s\n", path)
		}
	}
	if cfg.KEK == "" {
		path := filepath.Join(cfg.DataDir, "kek")
		v, _, err := readOrCreate(path, func() string { return randomStdB64(32) })
		if err != nil {
			return err
		}
		cfg.KEK = v
		fmt.Fprintf(out, "WARNING: SIGNET_KEK is not set; using a key-encryption key generated and stored in %s.\n"+
			"WARNING: anyone who can read that file can decrypt Signet's signing keys. Set SIGNET_KEK in production.\n", path)
	}
	return nil
}

func readOrCreate(path string, gen func() string) (string, bool, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	v := gen()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return readOrCreate(path, gen)
		}
		return "", false, err
	}
	if _, err := f.WriteString(v + "\n"); err != nil {
		f.Close()
		return "", false, err
	}
	return v, true, f.Close()
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomStdB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
