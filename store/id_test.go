package store

import "testing"

func TestValidID(t *testing.T) {
	for _, bad := range []string{"", "123", "not-a-uuid", "{4a6105cd-7898-4dc8-be79-fd27e237ba54}",
		"urn:uuid:4a6105cd-7898-4dc8-be79-fd27e237ba54", "4a6105cd78984dc8be79fd27e237ba54"} {
		if ValidID(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if !ValidID("4a6105cd-7898-4dc8-be79-fd27e237ba54") {
		t.Fatal("canonical UUID refused")
	}
}
