// Package demopay is a tiny payment API for the demo behind `signet gateway` (`signet
// demo-payments`): POST /payments accepts a payment and records the call with the operation and
// subject the gateway verified; GET /payments lists the last Keep payments it received (a
// long-running demo or a load run does not grow without bound).
package demopay

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Payment is one accepted payment request.
type Payment struct {
	ID              string    `json:"id"`
	Amount          string    `json:"amount"`
	Currency        string    `json:"currency"`
	CreditorAccount string    `json:"creditor_account"`
	Operation       string    `json:"signet_operation"`
	Subject         string    `json:"signet_subject"`
	ReceivedAt      time.Time `json:"received_at"`
}

// Keep is how many of the latest payments a Server remembers.
const Keep = 1000

// Server records the latest Keep payments in memory, in a ring.
type Server struct {
	mu       sync.Mutex
	received int       // payments ever received; the next ID is pay-(received+1)
	ring     []Payment // up to Keep; ring[received%Keep] is the next slot once full
}

// New returns an empty server.
func New() *Server { return &Server{} }

// Payments returns a copy of the latest payments received, oldest first.
func (s *Server) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) < Keep {
		return append([]Payment(nil), s.ring...)
	}
	next := s.received % Keep
	return append(append(make([]Payment, 0, Keep), s.ring[next:]...), s.ring[:next]...)
}

func (s *Server) record(p Payment) Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received++
	p.ID = "pay-" + strconv.Itoa(s.received)
	if len(s.ring) < Keep {
		s.ring = append(s.ring, p)
	} else {
		s.ring[(s.received-1)%Keep] = p
	}
	return p
}

// Handler serves POST /payments, GET /payments and GET /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /payments", s.create)
	mux.HandleFunc("GET /payments", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"payments": s.Payments()})
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	return mux
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Amount          json.Number `json:"amount"`
		Currency        string      `json:"currency"`
		CreditorAccount string      `json:"creditor_account"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || in.Amount == "" || in.Currency == "" || in.CreditorAccount == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "amount, currency and creditor_account are required"})
		return
	}
	// Behind the gateway these headers carry the verified approval; the demo only records them.
	p := s.record(Payment{Amount: in.Amount.String(), Currency: in.Currency, CreditorAccount: in.CreditorAccount,
		Operation: r.Header.Get("Signet-Operation"), Subject: r.Header.Get("Signet-Subject"), ReceivedAt: time.Now().UTC()})
	writeJSON(w, http.StatusCreated, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
