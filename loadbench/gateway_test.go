package loadbench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
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
	mux.HandleFunc("DELETE /v1/credentials/{id}", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, map[string]string{"status": "REMOVED"}) // the bench removes what it registered
	})
	mux.HandleFunc("POST /v1/operations", func(w http.ResponseWriter, _ *http.Request) {
		id := fmt.Sprint("op-", n.Add(1))
		reply(w, map[string]string{"id": id, "capability": "cap-" + id})
	})
	// Like Signet, the operation's public routes answer 404 without its capability.
	hasCapability := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Header.Get("Authorization") != "Signet-Capability cap-"+r.PathValue("id") {
			http.Error(w, `{"status":404,"code":"not_found"}`, http.StatusNotFound)
			return false
		}
		return true
	}
	mux.HandleFunc("GET /v1/operations/{id}/signing-data", func(w http.ResponseWriter, r *http.Request) {
		if !hasCapability(w, r) {
			return
		}
		in := txsign.DLInput{ID: r.PathValue("id"), Type: "payment", PayeeAccount: benchAccount, PayeeName: "Bench Payee",
			Amount: benchAmount, Currency: benchCurrency, Nonce: "nonce", ExpiresAt: time.Unix(1_900_000_000, 0).UTC()}
		reply(w, map[string]any{"id": in.ID, "type": in.Type, "payee": map[string]string{"account": in.PayeeAccount, "name": in.PayeeName},
			"amount": in.Amount, "currency": in.Currency, "nonce": in.Nonce, "expires_at": in.ExpiresAt,
			"dl": txsign.EncodeDigest(txsign.ComputeDL(in))})
	})
	mux.HandleFunc("POST /v1/operations/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		if !hasCapability(w, r) {
			return
		}
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

// TestUpstreamFlow: the upstream flow sends the gateway flow's payments
// straight to the upstream, without a token, for the whole duration, and is
// reported without a bound and with a line saying what it measures.
func TestUpstreamFlow(t *testing.T) {
	var paid, withToken atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]string
		if r.Method != "POST" || r.URL.Path != "/pay" || json.NewDecoder(r.Body).Decode(&p) != nil ||
			p["amount"] != benchAmount || p["creditor_account"] != benchAccount {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Header.Get("Authorization") != "" || r.Header.Get("Txn-Token") != "" {
			withToken.Add(1)
		}
		paid.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(up.Close)
	start := time.Now()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1)) // the bench's own setting is not the machine's cores
	rep, err := Run(context.Background(), Config{Upstream: up.URL + "/", GatewayPath: "/pay", Users: 3,
		Duration: 300 * time.Millisecond, Flows: []string{"upstream"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Cores != runtime.NumCPU() {
		t.Errorf("report says %d cores, the machine has %d", rep.Cores, runtime.NumCPU())
	}
	f := rep.Flows[0]
	if f.Flow != "upstream" || f.Requests == 0 || f.Errors != 0 || int64(f.Requests) > paid.Load() || withToken.Load() != 0 {
		t.Fatalf("upstream flow %+v; the upstream was paid %d times, %d with a token", f, paid.Load(), withToken.Load())
	}
	if f.Bound != 0 || f.Ratio != 0 || f.Throughput <= 0 {
		t.Errorf("upstream flow: bound %v, ratio %v, throughput %v", f.Bound, f.Ratio, f.Throughput)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Errorf("the run ended after %s, before its duration", time.Since(start))
	}
	if f.GatewayCeiling != 0 { // no GETDEL measured without --redis: no ceiling
		t.Errorf("gateway ceiling %v without a Redis primitive", f.GatewayCeiling)
	}
	if runtime.GOOS == "linux" && (f.CPUPerOp <= 0 || f.Busy <= 0 || f.Busy > 1) {
		t.Errorf("machine CPU per op %v, busy %v", f.CPUPerOp, f.Busy)
	}
	var table strings.Builder
	rep.Table(&table)
	if !strings.Contains(table.String(), "the bench client and the upstream alone") {
		t.Errorf("the table does not say what the upstream flow measures:\n%s", table.String())
	}
}

// TestGatewayCeiling: with verify + GETDEL = 100 µs (bound 20 000/s on 2
// cores) and an upstream flow costing the machine 100 µs per request, a
// gateway request costs at least 200 µs: half the bound.
func TestGatewayCeiling(t *testing.T) {
	prims := map[string]time.Duration{"ecdsa_verify": 60 * time.Microsecond, "redis_getdel": 40 * time.Microsecond}
	if got := gatewayCeiling(prims, 100*time.Microsecond); got != 0.5 {
		t.Errorf("ceiling %v, want 0.5", got)
	}
	if got := gatewayCeiling(prims, 300*time.Microsecond); got != 0.25 {
		t.Errorf("ceiling %v, want 0.25", got)
	}
	if got := gatewayCeiling(prims, 0); got != 0 {
		t.Errorf("ceiling %v without the upstream's CPU, want 0", got)
	}
	delete(prims, "redis_getdel")
	if got := gatewayCeiling(prims, 100*time.Microsecond); got != 0 {
		t.Errorf("ceiling %v without GETDEL, want 0", got)
	}
}

func TestParseProcStat(t *testing.T) {
	got, ok := parseProcStat("cpu  10132153 290696 3084719 46828483 16683 0 25195 7 0 0\n")
	busy := int64(10132153 + 290696 + 3084719 + 0 + 25195 + 7)
	if !ok || got.busy != busy || got.total != busy+46828483+16683 {
		t.Errorf("got %+v %v", got, ok)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8", "cpu 1 2 -3 4 5 6 7 8"} {
		if _, ok := parseProcStat(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if runtime.GOOS == "linux" {
		if m, ok := readMachineCPU(); !ok || m.total <= 0 || m.busy > m.total {
			t.Errorf("this machine's /proc/stat: %+v %v", m, ok)
		}
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
		{"upstream,device-key", "http://gw", 0, "needs --upstream"},
		{"device-key,nginx-authz", "http://gw", 0, "needs --nginx-authz"},
		{"nginx-floor", "http://gw", 0, "needs --nginx-floor"},
	} {
		err := checkFlows(Config{Flows: strings.Split(tc.flows, ","), Gateway: tc.gateway, Rate: tc.rate})
		if err == nil && tc.want == "" {
			// and with an upstream, the upstream flow may come first
			err = checkFlows(Config{Flows: append([]string{"upstream"}, strings.Split(tc.flows, ",")...), Gateway: tc.gateway, Rate: tc.rate, Upstream: "http://up"})
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s (gateway %q, rate %v): %v, want %q", tc.flows, tc.gateway, tc.rate, err, tc.want)
		}
	}
}

// TestNginxFlows: nginx-authz spends the device-key flow's tokens after the gateway flow left it
// its share, sending each with the payment's binding headers; nginx-floor sends the same payment
// without a token; and the gateway, nginx-authz and the floor itself are reported as ratios to
// the floor.
func TestNginxFlows(t *testing.T) {
	signet := fakeSignet(t)
	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		badHdrs atomic.Int64
		floorN  atomic.Int64
	)
	spend := func(tok string) {
		mu.Lock()
		seen[tok]++
		mu.Unlock()
	}
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spend(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(gw.Close)
	binding := func(r *http.Request) bool {
		return r.Header.Get("Payment-Amount") == benchAmount && r.Header.Get("Payment-Currency") == benchCurrency &&
			r.Header.Get("Payment-Payee-Account") == benchAccount && r.URL.Path == "/payments"
	}
	authz := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !binding(r) || r.Header.Get("Txn-Token") == "" || r.Header.Get("Authorization") != "" {
			badHdrs.Add(1)
		}
		spend(r.Header.Get("Txn-Token"))
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(authz.Close)
	floor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !binding(r) || r.Header.Get("Txn-Token") != "" {
			badHdrs.Add(1)
		}
		floorN.Add(1)
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(floor.Close)

	rep, err := Run(context.Background(), Config{Server: signet.URL, APIKey: "k", Gateway: gw.URL, NginxAuthz: authz.URL,
		NginxFloor: floor.URL, Users: 4, Duration: 300 * time.Millisecond,
		Flows: []string{"device-key", "gateway", "nginx-authz", "nginx-floor"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Flows) != 4 {
		t.Fatalf("flows %+v", rep.Flows)
	}
	mint, g, n, f := rep.Flows[0], rep.Flows[1], rep.Flows[2], rep.Flows[3]
	if g.Requests == 0 || n.Requests == 0 || f.Requests == 0 || g.Requests > mint.Requests/2 || badHdrs.Load() != 0 || floorN.Load() < int64(f.Requests) {
		t.Fatalf("minted %d, gateway %d, nginx-authz %d, floor %d (%d requests with the wrong headers)",
			mint.Requests, g.Requests, n.Requests, f.Requests, badHdrs.Load())
	}
	mu.Lock()
	for tok, k := range seen {
		if k > 1 {
			t.Errorf("token %s spent %d times", tok, k)
		}
	}
	mu.Unlock()
	if g.RatioToFloor != g.Throughput/f.Throughput || n.RatioToFloor != n.Throughput/f.Throughput || f.RatioToFloor != 1 || mint.RatioToFloor != 0 {
		t.Errorf("ratios to the floor: gateway %v, nginx-authz %v, floor %v, device-key %v", g.RatioToFloor, n.RatioToFloor, f.RatioToFloor, mint.RatioToFloor)
	}
	var table strings.Builder
	rep.Table(&table)
	if want := fmt.Sprintf("%.0f%% of the nginx floor", n.RatioToFloor*100); !strings.Contains(table.String(), want) {
		t.Errorf("the table lacks %q:\n%s", want, table.String())
	}
}
