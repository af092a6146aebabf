package demopay

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestKeepsTheLatest: the server remembers the latest Keep payments, oldest
// first, and numbers every payment it ever received.
func TestKeepsTheLatest(t *testing.T) {
	s := New()
	h := s.Handler()
	pay := func(i int) {
		req := httptest.NewRequest("POST", "/payments", strings.NewReader(fmt.Sprintf(`{"amount": %d, "currency": "EUR", "creditor_account": "DE89"}`, i)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Fatalf("payment %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	for i := 1; i <= 3; i++ {
		pay(i)
	}
	if p := s.Payments(); len(p) != 3 || p[0].ID != "pay-1" || p[2].Amount != "3" {
		t.Fatalf("after 3: %+v", p)
	}
	total := Keep + Keep/2 + 7
	for i := 4; i <= total; i++ {
		pay(i)
	}
	p := s.Payments()
	if len(p) != Keep {
		t.Fatalf("remembers %d payments, want %d", len(p), Keep)
	}
	for j, got := range p {
		want := total - Keep + 1 + j
		if got.ID != fmt.Sprintf("pay-%d", want) || got.Amount != fmt.Sprint(want) {
			t.Fatalf("payment %d is %s (amount %s), want pay-%d", j, got.ID, got.Amount, want)
		}
	}
}
