//go:build unix

package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/signet-sca/signet/internal/privfile"
	"github.com/signet-sca/signet/store/sqlstore"
)

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestSQLiteFilesArePrivate: under the most permissive umask, a new embedded database, its
// -wal and -shm files and the directory made for them are readable by their owner only.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0) // process-wide: this test is not parallel
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data", "db")
	path := filepath.Join(dir, "signet.db")
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil { // writes: the WAL is in use
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %v; want 0600", filepath.Base(p), m)
		}
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s: mode %v; want 0700", d, m)
		}
	}
}

// TestSQLiteFilesTightenedOrRefused: existing files readable by others are made private with a
// log line; a database file another user owns is refused; one of ours already private passes.
func TestSQLiteFilesTightenedOrRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("owned by another user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a file away")
		}
		path := filepath.Join(t.TempDir(), "signet.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		_, err := sqlstore.Open(ctx, path)
		if !errors.Is(err, privfile.ErrForeignOwner) || !strings.Contains(err.Error(), "uid 65534") {
			t.Fatalf("Open: %v; want ErrForeignOwner naming the uid", err)
		}
		if m := mode(t, path); m != 0o600 {
			t.Fatalf("a refused file was changed: %v", m)
		}
	})
	t.Run("readable by others", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "signet.db")
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, 0o664); err != nil {
				t.Fatal(err)
			}
		}
		var logs bytes.Buffer
		st, err := sqlstore.Open(ctx, path, sqlstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if m := mode(t, p); m != 0o600 {
				t.Errorf("%s: mode %v; want 0600", filepath.Base(p), m)
			}
			if !strings.Contains(logs.String(), "path="+p+" old_mode=-rw-rw-r-- new_mode=-rw-------") {
				t.Errorf("no log line for %s: %s", p, logs.String())
			}
		}
	})
	t.Run("already private passes quietly", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "signet.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		st, err := sqlstore.Open(ctx, path, sqlstore.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if logs.Len() != 0 {
			t.Fatalf("logged: %s", logs.String())
		}
	})
}
