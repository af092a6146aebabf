// Package sign is a fixture for mutatecases: a switch whose case expressions gremlins reports as not
// covered.
package sign

import "strconv"

// Of returns -1, 0 or 1 by the sign of n, and 2 for n over 100.
func Of(n int) int {
	switch {
	case n > 100:
		return 2
	case n < 0:
		return -1
	case n == 0:
		return 0
	}
	return 1
}

// Label names n's successor.
func Label(n int) string {
	return "n+1=" + strconv.Itoa(n+1)
}
