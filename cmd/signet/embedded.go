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
	"github.com/signet-sca/signet/internal/privfile"
)

// ensureEmbeddedSecrets fills in the API key and KEK in embedded mode when
// they are not configured: generated once, persisted (0600) in the data
// directory, reused on later starts. The API key is printed when it is created.
func ensureEmbeddedSecrets(cfg *config.Config, out io.Writer) error {
	if !cfg.Embedded() {
		return nil
	}
	// The directory holds the database, the API key and the KEK: 0700, tightened if it exists
	// looser, refused if another user owns it.
	t, err := privfile.MkdirAll(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data directory (SIGNET_DATA_DIR): %w", err)
	}
	reportTightened(out, t)
	if cfg.APIKeys == "" {
		path := filepath.Join(cfg.DataDir, "api-key")
		v, created, err := readOrCreate(path, func() string { return "admin:" + randomB64(24) + ":admin" }, out)
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
		v, _, err := readOrCreate(path, func() string { return randomStdB64(32) }, out)
		if err != nil {
			return err
		}
		cfg.KEK = v
		fmt.Fprintf(out, "WARNING: SIGNET_KEK is not set; using a key-encryption key generated and stored in %s.\n"+
			"WARNING: anyone who can read that file can decrypt Signet's signing keys. Set SIGNET_KEK in production.\n", path)
	}
	return nil
}

// findEmbeddedInstance fills in the API key and KEK of an existing embedded instance for the commands that
// work on one (all but serve, which creates it, and migrate, which needs no secrets). It creates nothing: a
// command run outside a data directory says where it looked instead of starting a new, empty instance.
func findEmbeddedInstance(cfg *config.Config) error {
	if !cfg.Embedded() {
		return nil
	}
	var looked, missing []string
	need := func(path string) {
		looked = append(looked, path)
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, path)
		}
	}
	if cfg.KEK == "" {
		need(filepath.Join(cfg.DataDir, "kek"))
	}
	if !strings.Contains(cfg.DatabaseURL, ":") { // a plain SQLite path (sqlite: and file: URLs are opened as given)
		need(cfg.DatabaseURL)
	}
	if len(missing) > 0 {
		return fmt.Errorf("no Signet instance here: looked for %s and did not find %s (SIGNET_DATA_DIR=%s). "+
			"Run this where `signet serve` keeps its data, set SIGNET_DATA_DIR, or start one with `signet serve`",
			strings.Join(looked, " and "), strings.Join(missing, ", "), cfg.DataDir)
	}
	if cfg.KEK == "" {
		b, err := os.ReadFile(filepath.Join(cfg.DataDir, "kek"))
		if err != nil {
			return err
		}
		cfg.KEK = strings.TrimSpace(string(b))
	}
	return nil
}

func reportTightened(out io.Writer, t *privfile.Tightened) {
	if t != nil {
		fmt.Fprintf(out, "Signet: %s was readable by other users (mode %s); it is now %s.\n", t.Path, t.Old, t.New)
	}
}

// readOrCreate returns the content of the secret file at path, creating it 0600 with gen()
// when it does not exist. An existing file readable by others is made private, one owned by
// another user is refused.
func readOrCreate(path string, gen func() string, out io.Writer) (string, bool, error) {
	t, err := privfile.Tighten(path)
	if err != nil {
		return "", false, err
	}
	reportTightened(out, t)
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	v := gen()
	f, err := privfile.Create(path) // 0600 whatever the umask
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // another process won the race
			return readOrCreate(path, gen, out)
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
