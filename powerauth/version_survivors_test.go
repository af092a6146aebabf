package powerauth

import "testing"

// TestVersionValidRange shows that Valid and String accept exactly the four 3.x versions, both ends
// included (PowerAuth 3.x, ProtocolVersion "3.0" … "3.3"), and refuse their neighbours.
func TestVersionValidRange(t *testing.T) {
	for _, tc := range []struct {
		v     Version
		valid bool
		text  string
	}{
		{29, false, "invalid(29)"}, {Version30, true, "3.0"}, {Version31, true, "3.1"},
		{Version32, true, "3.2"}, {Version33, true, "3.3"}, {34, false, "invalid(34)"},
	} {
		if tc.v.Valid() != tc.valid || tc.v.String() != tc.text {
			t.Errorf("Version(%d): Valid %v, String %q; want %v, %q", uint8(tc.v), tc.v.Valid(), tc.v.String(), tc.valid, tc.text)
		}
	}
}
