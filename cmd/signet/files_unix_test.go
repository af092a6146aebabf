//go:build unix

package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestEmbeddedFilesArePrivate: embedded mode's first start leaves the data directory 0700 and
// the generated API key, KEK and database 0600 under the most permissive umask; a later start
// tightens a loosened directory and files, and says so; files another user owns are refused.
func TestEmbeddedFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0) // process-wide: this test is not parallel
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	env := []string{"SIGNET_DATA_DIR=" + dir}
	if out, err := run(t, env, "migrate"); err != nil {
		t.Fatalf("migrate: %v %s", err, out)
	}
	cfg, _ := loadConfig(env)
	if err := ensureEmbeddedSecrets(&cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{dir: 0o700}
	for _, f := range []string{"api-key", "kek", "signet.db"} {
		want[filepath.Join(dir, f)] = 0o600
	}
	check := func() {
		t.Helper()
		for p, m := range want {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != m {
				t.Errorf("%s: mode %v; want %v", p, fi.Mode().Perm(), m)
			}
		}
	}
	check()

	for p, m := range want {
		if err := os.Chmod(p, m|0o044); err != nil {
			t.Fatal(err)
		}
	}
	var msg bytes.Buffer
	cfg, _ = loadConfig(env)
	if err := ensureEmbeddedSecrets(&cfg, &msg); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, env, "migrate"); err != nil || !strings.Contains(out, "database file was readable by other users") {
		t.Fatalf("migrate does not say it tightened the database: %v %s", err, out)
	}
	check()
	for _, f := range []string{dir, filepath.Join(dir, "api-key"), filepath.Join(dir, "kek")} {
		if !strings.Contains(msg.String(), f+" was readable by other users") {
			t.Errorf("no message for %s: %s", f, msg.String())
		}
	}

	if os.Geteuid() == 0 {
		if err := os.Chown(filepath.Join(dir, "kek"), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cfg, _ = loadConfig(env)
		if err := ensureEmbeddedSecrets(&cfg, io.Discard); err == nil || !strings.Contains(err.Error(), "owned by another user") {
			t.Fatalf("a KEK file owned by another user: %v", err)
		}
	}
}
