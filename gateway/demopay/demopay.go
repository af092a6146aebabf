// Package demopay is a tiny payment API for the demo behind `signet gateway` (`signet
// demo-payments`): POST /payments accepts a payment and records the call with the operation and
// subject the gateway verified; GET /payments lists what it received.
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

// Server records payments in memory.
type Server struct {
	mu       sync.Mutex
	payments []Payment
}

// New returns an empty server.
func New() *Server { return &Server{} }

// Payments returns a copy of what was received.
func (s *Server) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Payment(nil), s.payments...)
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
	s.mu.Lock()
	p := Payment{ID: "pay-" + strconv.Itoa(len(s.payments)+1), Amount: in.Amount.String(), Currency: in.Currency,
		CreditorAccount: in.CreditorAccount, Operation: r.Header.Get("Signet-Operation"), Subject: r.Header.Get("Signet-Subject"),
		ReceivedAt: time.Now().UTC()}
	s.payments = append(s.payments, p)
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
