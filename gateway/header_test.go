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
