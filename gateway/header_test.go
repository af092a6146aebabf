package gateway

import "testing"

// TestHeaderIsFoldsLikeCGI: every spelling an upstream reading headers CGI-style (RFC 3875
// §4.1.18) or PHP-style maps onto the same variable as Signet-Subject is the gateway's own
// header, whatever its case or separators.
func TestHeaderIsFoldsLikeCGI(t *testing.T) {
	for _, name := range []string{"Signet-Subject", "signet_subject", "SIGNET.SUBJECT", "Signet~Subject", "sIgNeT_sUbJeCt"} {
		if !headerIs(name, "signet-subject", false) || !headerIs(name, signetPrefix, true) {
			t.Errorf("%q is not read as Signet-Subject", name)
		}
	}
	for _, name := range []string{"Signetsubject", "X-Signet-Subject", "Signet-Subjects"} {
		if headerIs(name, "signet-subject", false) {
			t.Errorf("%q is read as Signet-Subject", name)
		}
	}
}

// TestHeaderIsCharacterClasses: letters and digits are kept (upper case folded to lower), and the
// characters just outside each range are separators; a header is matched by no other spelling.
func TestHeaderIsCharacterClasses(t *testing.T) {
	for _, tt := range []struct {
		name, want string
		match      bool
	}{
		{"AZaz09", "azaz09", true},
		{"aZ-Az_9.0", "az-az-9-0", true},
		{"@[`{/:", "------", true}, // the neighbours of A-Z, a-z and 0-9 (ASCII '@' '[' '`' '{' '/' ':')
		{"@", "a", false},
		{"[", "z", false},
		{"`", "a", false},
		{"{", "z", false},
		{"/", "0", false},
		{":", "9", false},
	} {
		if got := headerIs(tt.name, tt.want, false); got != tt.match {
			t.Errorf("headerIs(%q, %q) = %v, want %v", tt.name, tt.want, got, tt.match)
		}
	}
}

// TestIsPrintableASCII: space (0x20) through tilde (0x7e) are printable; the bytes just outside are not.
func TestIsPrintableASCII(t *testing.T) {
	for in, want := range map[string]bool{" ": true, "~": true, "a b~": true, "\x1f": false, "\x7f": false, "a\x00": false, "": true} {
		if got := isPrintableASCII([]byte(in)); got != want {
			t.Errorf("isPrintableASCII(%q) = %v, want %v", in, got, want)
		}
	}
}
