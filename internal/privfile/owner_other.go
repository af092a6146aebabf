//go:build !unix

package privfile

import "io/fs"

// owner is unknown off Unix: file ownership is the platform's ACLs, not a uid.
func owner(fs.FileInfo) (int, bool) { return 0, false }
