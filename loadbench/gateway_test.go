package loadbench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signet-sca/signet/txsign"
)

// fakeSignet answers the device-key flow's calls (without checking
// signatures) and mints numbered tokens.
func fakeSignet(t *testing.T) *httptest.Server {
	var n atomic.Int64
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/users", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]string{"id": fmt.Sprint("user-", n.Add(1))})
	})
	mux.HandleFunc("POST /v1/users/{id}/registration-codes", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]string{"code": "code"})
	})
	mux.HandleFunc("POST /v1/devices", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]string{"credential_id": fmt.Sprint("cred-", n.Add(1))})
	})
	mux.HandleFunc("POST /v1/operations", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]string{"id": fmt.Sprint("op-", n.Add(1))})
	})
	mux.HandleFunc("GET /v1/operations/{id}/signing-data", func(w http.ResponseWriter, r *http.Request) {
		in := txsign.DLInput{ID: r.PathValue("id"), Type: "payment", PayeeAccount: benchAccount, PayeeName: "Bench Payee",
			Amount: benchAmount, Currency: benchCurrency, Nonce: "nonce", ExpiresAt: time.Unix(1_900_000_000, 0).UTC()}
		reply(w, map[string]any{"id": in.ID, "type": in.Type, "payee": map[string]string{"account": in.PayeeAccount, "name": in.PayeeName},
			"amount": in.Amount, "currency": in.Currency, "nonce": in.Nonce, "expires_at": in.ExpiresAt,
			"dl": txsign.EncodeDigest(txsign.ComputeDL(in))})
	})
	mux.HandleFunc("POST /v1/operations/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]string{"token": "token-" + r.PathValue("id")})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestGatewayHalf: the saturated gateway flow leaves half the minted tokens
// for gateway-half, which runs at half the throughput the gateway flow
// reached, is reported with its pace and without a bound, and no token is
// paid twice.
func TestGatewayHalf(t *testing.T) {
	signet := fakeSignet(t)
	var (
		paid, twice atomic.Int64
		mu          sync.Mutex
		seen        = map[string]bool{}
	)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		if seen[tok] {
			twice.Add(1)
		}
		seen[tok] = true
		mu.Unlock()
		paid.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(gw.Close)

	rep, err := Run(context.Background(), Config{Server: signet.URL, APIKey: "k", Gateway: gw.URL, Users: 4,
		Duration: 400 * time.Millisecond, Flows: []string{"device-key", "gateway", "gateway-half"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Flows) != 3 {
		t.Fatalf("flows %+v", rep.Flows)
	}
	mint, sat, half := rep.Flows[0], rep.Flows[1], rep.Flows[2]
	if mint.Requests < 4 || sat.Requests == 0 || half.Requests == 0 {
		t.Fatalf("minted %d, gateway %d, gateway-half %d", mint.Requests, sat.Requests, half.Requests)
	}
	if sat.Requests > mint.Requests/2 {
		t.Errorf("the saturated gateway flow used %d of %d tokens, want at most half", sat.Requests, mint.Requests)
	}
	// A payment cut off by the end of a flow may have reached the gateway: at most one per user.
	if done := int64(sat.Requests + half.Requests); done > int64(mint.Requests) || paid.Load() < done || paid.Load() > done+4 || twice.Load() != 0 {
		t.Errorf("minted %d, paid %d + %d (gateway saw %d, %d twice)", mint.Requests, sat.Requests, half.Requests, paid.Load(), twice.Load())
	}
	if sat.Rate != 0 || sat.Bound == 0 {
		t.Errorf("the saturated gateway flow: rate %v, bound %v", sat.Rate, sat.Bound)
	}
	if half.Rate != sat.Throughput/2 || half.Bound != 0 || half.Ratio != 0 {
		t.Errorf("gateway-half: rate %v (gateway reached %v), bound %v, ratio %v", half.Rate, sat.Throughput, half.Bound, half.Ratio)
	}
	// n starts on a schedule of rate/s span (n-1)/rate seconds at least.
	if n := float64(half.Requests); n > 1 && half.Throughput > half.Rate*n/(n-1)*1.05 {
		t.Errorf("gateway-half ran at %.0f/s, paced at %.0f/s", half.Throughput, half.Rate)
	}
	var table strings.Builder
	rep.Table(&table)
	if !strings.Contains(table.String(), fmt.Sprintf("paced at %.0f/s", half.Rate)) {
		t.Errorf("the table does not say gateway-half's pace:\n%s", table.String())
	}
}

func TestCheckFlows(t *testing.T) {
	for _, tc := range []struct {
		flows   string
		gateway string
		rate    float64
		want    string // "" for accepted
	}{
		{"device-key,powerauth,gateway,gateway-half", "http://gw", 0, ""},
		{"device-key,gateway", "http://gw", 500, ""},
		{"device-key,gateway", "", 0, "needs --gateway"},
		{"gateway,device-key", "http://gw", 0, "list device-key before it"},
		{"device-key,gateway-half", "http://gw", 0, "list gateway before it"},
		{"device-key,gateway,gateway-half", "http://gw", 500, "drop --rate"},
		{"device-key,gateway-full", "http://gw", 0, "unknown flow"},
	} {
		err := checkFlows(Config{Flows: strings.Split(tc.flows, ","), Gateway: tc.gateway, Rate: tc.rate})
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s (gateway %q, rate %v): %v, want %q", tc.flows, tc.gateway, tc.rate, err, tc.want)
		}
	}
}
