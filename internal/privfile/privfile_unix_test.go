//go:build unix

package privfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestTighten(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, mode os.FileMode, isDir bool) string {
		p := filepath.Join(dir, name)
		var err error
		if isDir {
			err = os.Mkdir(p, 0o700)
		} else {
			err = os.WriteFile(p, nil, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		err     error
		changed bool
		want    os.FileMode
	}{
		{"shared sticky directory", mk("tmp", 0o777|os.ModeSticky, true), ErrShared, false, 0o777},
		{"world-readable file", mk("a", 0o644, false), nil, true, 0o600},
		{"group-writable directory", mk("d", 0o770, true), nil, true, 0o700},
		{"executable file keeps no x", mk("x", 0o755, false), nil, true, 0o600},
		{"read-only key stays read-only", mk("ro", 0o400, false), nil, false, 0o400},
		{"private file", mk("p", 0o600, false), nil, false, 0o600},
		{"missing", filepath.Join(dir, "none"), nil, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Tighten(tc.path)
			if !errors.Is(err, tc.err) || (got != nil) != tc.changed {
				t.Fatalf("Tighten = %v, %v", got, err)
			}
			if fi, err := os.Stat(tc.path); err == nil && fi.Mode().Perm() != tc.want {
				t.Fatalf("mode %v; want %v", fi.Mode().Perm(), tc.want)
			}
		})
	}
}
