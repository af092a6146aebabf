// Package privfile keeps Signet's files private to the user it runs as: the embedded database
// and its -wal/-shm files, the generated API key and key-encryption key, and their directory.
// It creates files 0600 and directories 0700 whatever the umask, tightens looser ones it finds,
// and refuses files another user owns.
package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Modes of private files and directories.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// ErrForeignOwner: the path belongs to another user; Signet will not use (or chmod) it.
var ErrForeignOwner = errors.New("owned by another user")

// ErrShared: the directory is a shared one (sticky bit, like /tmp); Signet will not make it
// private, and needs a directory of its own.
var ErrShared = errors.New("a shared directory (sticky bit): give Signet a directory of its own")

// Tightened reports a path whose mode Tighten changed.
type Tightened struct {
	Path     string
	Old, New fs.FileMode
}

// Tighten makes an existing path private: mode 0600 for a file, 0700 for a directory, keeping
// only the owner's bits. It refuses a path owned by another user (ErrForeignOwner), since
// anyone who owns it can read it or loosen it again. A missing path is (nil, nil). Symbolic
// links are followed, as opening the path would.
func Tighten(path string) (*Tightened, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return nil, fmt.Errorf("%s: %w (uid %d; Signet runs as uid %d): chown it or point Signet elsewhere", path, ErrForeignOwner, uid, os.Geteuid())
	}
	want := FileMode
	if fi.IsDir() {
		want = DirMode
		if fi.Mode()&fs.ModeSticky != 0 {
			return nil, fmt.Errorf("%s: %w", path, ErrShared)
		}
	}
	old := fi.Mode().Perm()
	if old&^want == 0 {
		return nil, nil // as private or more (a read-only 0400 key file stays 0400)
	}
	if err := os.Chmod(path, old&want); err != nil {
		return nil, fmt.Errorf("%s: make it private: %w", path, err)
	}
	return &Tightened{Path: path, Old: old, New: old & want}, nil
}

// Create creates path exclusively (fs.ErrExist if it exists) with mode 0600 whatever the
// process's umask: the mode is set again after the create, since a umask can also take the
// owner's own bits away.
func Create(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// MkdirAll creates dir and its missing parents 0700 whatever the umask (only the directories
// it creates), then tightens dir itself if it existed looser.
func MkdirAll(dir string) (*Tightened, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return nil, err
		}
		return nil, os.Chmod(dir, DirMode)
	}
	return Tighten(dir)
}
