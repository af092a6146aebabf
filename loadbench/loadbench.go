// Package loadbench drives a running Signet (and gateway) with concurrent
// virtual users through whole flows, and measures the raw primitives those
// flows are bound by, so throughput reads as a fraction of what this machine
// allows. It talks HTTP only: it benchmarks what a bank would deploy.
package loadbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Config configures a run.
type Config struct {
	Server      string // Signet base URL
	APIKey      string // private API key (secret); scope admin when a flow creates a PowerAuth application
	Gateway     string // gateway base URL; empty skips the gateway flow
	GatewayPath string // the payment route behind the gateway (default /payments)
	// Upstream is the gateway's upstream base URL: the upstream flow sends the
	// gateway flow's payments straight to it, so the table shows what the
	// bench client and the upstream alone reach on this host.
	Upstream string
	// NginxAuthz is nginx (or any proxy) asking `signet gateway` in mode authz
	// before it proxies to the upstream, with the payment's binding in the
	// Payment-Amount, Payment-Currency and Payment-Payee-Account headers
	// (docs/gateway.md); NginxFloor is the same nginx proxying to the upstream
	// without any check: the floor the nginx flows are read against.
	NginxAuthz string
	NginxFloor string
	Users      int // concurrent virtual users per flow
	// Rate starts each flow's operations on a fixed schedule of Rate per
	// second (0: as fast as the users go), to read latency at a given load
	// rather than at saturation; latency counts from the scheduled start.
	Rate     float64
	Duration time.Duration // per flow
	Flows    []string      // "device-key", "passkey", "powerauth", "gateway", "gateway-half", "upstream", "nginx-authz", "nginx-floor"
	// RPOrigin is the WebAuthn origin the passkey flow's virtual
	// authenticator signs for (one of the server's SIGNET_RP_ORIGINS;
	// default: the origin of the enrollment links the server issues).
	RPOrigin string
	// Argon2 are the server's Argon2id parameters: the passkey flow's bound
	// is cores / one Argon2id with them (default DefaultArgon2).
	Argon2 Argon2
	// Primitives: where to measure a Redis GETDEL and a single-row update.
	// PostgresURL, when it names the database the server uses, also gives
	// each flow's commits and rows written per operation (pg_stat_database).
	RedisURL    string
	PostgresURL string
	Progress    io.Writer // nil: no progress output
	// ProgressBar: Progress is a terminal, so a bar redrawn in place; otherwise a plain line as each flow
	// starts and ends (no carriage returns in a pipe or a log file).
	ProgressBar bool
	// Keep leaves the device keys and activations the run registered; by default they are removed at the end
	// (the bench's users, bench-<flow>-<n>, are reused by the next run).
	Keep       bool
	HTTPClient *http.Client
}

// FlowResult is one flow's outcome.
type FlowResult struct {
	Flow       string         `json:"flow"`
	Requests   int            `json:"completed"`
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	Throughput float64        `json:"throughput_per_s"`
	P50        Millis         `json:"p50_ms"`
	P95        Millis         `json:"p95_ms"`
	P99        Millis         `json:"p99_ms"`
	// Rate is the pace the flow's starts followed (0: as fast as the users go).
	Rate float64 `json:"rate_per_s,omitempty"`
	// Bound is the throughput the flow's primitives allow on this machine
	// (cores / sum of primitive costs); Ratio = Throughput / Bound.
	Bound     float64  `json:"bound_per_s"`
	Ratio     float64  `json:"ratio_to_bound"`
	BoundedBy []string `json:"bounded_by"`
	// CPUPerOp is the whole machine's CPU time (every process: servers,
	// databases, this client) per completed operation, and Busy the share of
	// the machine's CPU time that was busy while the flow ran; from
	// /proc/stat, Linux only. They say what a flow costs when the servers
	// share the host with the bench, as the bound assumes.
	CPUPerOp Millis  `json:"machine_cpu_per_op_ms,omitempty"`
	Busy     float64 `json:"machine_busy,omitempty"`
	// GatewayCeiling (upstream flow only) is the highest ratio to the gateway
	// bound that a gateway flow can reach on this host, under the bound's own
	// model (costs add, cores are shared): even a gateway whose only work is
	// the ECDSA verify and the GETDEL adds them to what this flow cost.
	GatewayCeiling float64 `json:"gateway_ceiling_ratio,omitempty"`
	// RatioToFloor (when the nginx-floor flow ran) is the flow's throughput as
	// a share of nginx proxying with no token check: the gateway, nginx with
	// forward-auth and the upstream alone, each against the same floor.
	RatioToFloor float64 `json:"ratio_to_nginx_floor,omitempty"`
	// DB is what one operation cost Signet's PostgreSQL database (with
	// --postgres naming that database).
	DB *DBPerOp `json:"db_per_op,omitempty"`
}

// Millis renders a duration as fractional milliseconds in JSON.
type Millis time.Duration

// MarshalJSON implements json.Marshaler.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.3f", float64(m)/1e6)), nil
}

// Report is a whole run.
type Report struct {
	Cores      int               `json:"cores"`
	Users      int               `json:"users"`
	Primitives map[string]Millis `json:"primitives_ms"`
	// Argon2 are the parameters the argon2id primitive was measured with
	// (those the passkey flow's server is assumed to run).
	Argon2 Argon2       `json:"argon2"`
	Flows  []FlowResult `json:"flows"`
}

// Run measures the primitives, then runs each flow for cfg.Duration.
func Run(ctx context.Context, cfg Config) (_ Report, err error) {
	if cfg.Users <= 0 {
		cfg.Users = 8
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.GatewayPath == "" {
		cfg.GatewayPath = "/payments"
	}
	if cfg.Argon2 == (Argon2{}) {
		cfg.Argon2 = DefaultArgon2()
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			MaxConnsPerHost: cfg.Users * 2, MaxIdleConnsPerHost: cfg.Users * 2}}
	}
	if len(cfg.Flows) == 0 {
		cfg.Flows = []string{"device-key"}
		if cfg.Gateway != "" {
			cfg.Flows = append(cfg.Flows, "gateway")
		}
	}
	if err := checkFlows(cfg); err != nil {
		return Report{}, err
	}
	prims, err := measurePrimitives(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	// The bound is what the machine's cores allow: the servers use all of
	// them whatever GOMAXPROCS this process runs with.
	rep := Report{Cores: runtime.NumCPU(), Users: cfg.Users, Primitives: map[string]Millis{}, Argon2: cfg.Argon2}
	for k, v := range prims {
		rep.Primitives[k] = Millis(v)
	}
	c := &client{cfg: cfg, http: cfg.HTTPClient}
	var stats *pgStats
	if cfg.PostgresURL != "" {
		if stats, err = openPGStats(ctx, cfg.PostgresURL); err != nil {
			return Report{}, fmt.Errorf("postgres statistics: %w", err)
		}
		defer stats.Close()
	}
	if !cfg.Keep {
		defer func() {
			n, cerr := c.cleanUp(context.WithoutCancel(ctx))
			if cfg.Progress != nil && n > 0 {
				fmt.Fprintf(cfg.Progress, "removed the %d device keys and activations this run registered (--keep keeps them)\n", n)
			}
			if cerr != nil && err == nil {
				err = cerr
			}
		}()
	}
	var (
		tokens     *tokenPool
		gatewayMax float64 // what the saturated gateway flow reached, for gateway-half
	)
	for i, flow := range cfg.Flows {
		var (
			setup     func(ctx context.Context, name string) (step, error)
			boundedBy []string
		)
		fcfg := cfg
		switch flow {
		case "device-key":
			tokens = newTokenPool()
			boundedBy = []string{"ecdsa_verify", "es256_sign", "row_update"}
			setup = func(ctx context.Context, name string) (step, error) {
				vu, err := c.newVirtualUser(ctx, name)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) error {
					tok, err := vu.approveOnce(ctx)
					if err == nil {
						tokens.put(tok)
					}
					return err
				}, nil
			}
		case "passkey":
			// One Argon2id per approval, on one core each: the bound item 1
			// of issue 17 is measured against.
			boundedBy = []string{"argon2id"}
			setup = func(ctx context.Context, name string) (step, error) {
				pu, err := c.newPasskeyUser(ctx, name)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context) error {
					_, err := pu.approveOnce(ctx)
					return err
				}, nil
			}
		case "powerauth":
			app := &application{}
			// PowerAuth signatures are HMACs (microseconds): the token's ES256
			// signature and the row updates bound the flow.
			boundedBy = []string{"es256_sign", "row_update"}
			setup = func(ctx context.Context, name string) (step, error) {
				pu, err := c.newPowerAuthUser(ctx, app, name)
				if err != nil {
					return nil, err
				}
				return pu.approveOnce, nil
			}
		case "gateway", "gateway-half", "nginx-authz": // checkFlows saw the URL and device-key before it
			if tokens == nil || tokens.len() == 0 {
				return rep, fmt.Errorf("the %s flow has no tokens left to consume: the device-key flow minted none, or the flows before used them all", flow)
			}
			quota, rate, err := gatewayPlan(cfg.Flows[i:], tokens.len(), gatewayMax)
			if err != nil {
				return rep, err
			}
			if rate > 0 {
				fcfg.Rate = rate
			} else {
				boundedBy = []string{"ecdsa_verify", "redis_getdel"}
			}
			var taken atomic.Int64
			setup = func(context.Context, string) (step, error) {
				return func(ctx context.Context) error {
					if taken.Add(1) > int64(quota) {
						return errNoTokens
					}
					tok, ok := tokens.take()
					if !ok {
						return errNoTokens
					}
					if flow == "nginx-authz" {
						return c.payThroughNginx(ctx, c.cfg.NginxAuthz, tok)
					}
					return c.payThroughGateway(ctx, tok)
				}, nil
			}
		case "upstream": // no token, no bound: the floor under every gateway flow
			setup = func(context.Context, string) (step, error) { return c.payUpstream, nil }
		case "nginx-floor": // no token, no bound: nginx alone in front of the upstream
			setup = func(context.Context, string) (step, error) {
				return func(ctx context.Context) error { return c.payThroughNginx(ctx, c.cfg.NginxFloor, "") }, nil
			}
		default:
			return rep, fmt.Errorf("unknown flow %q (%s)", flow, flowNames)
		}
		res, err := c.runFlow(ctx, flow, fcfg, setup, stats)
		if err != nil {
			return rep, err
		}
		res.Rate = fcfg.Rate
		res.bound(prims, rep.Cores, boundedBy...)
		if flow == "upstream" {
			res.GatewayCeiling = gatewayCeiling(prims, time.Duration(res.CPUPerOp))
		}
		if flow == "gateway" {
			gatewayMax = res.Throughput
		}
		rep.Flows = append(rep.Flows, res)
	}
	rep.ratiosToFloor()
	return rep, nil
}

// ratiosToFloor sets each flow's throughput as a share of the nginx-floor
// flow's, for the flows that end in a payment at the upstream.
func (r *Report) ratiosToFloor() {
	i := slices.IndexFunc(r.Flows, func(f FlowResult) bool { return f.Flow == "nginx-floor" })
	if i < 0 || r.Flows[i].Throughput <= 0 {
		return
	}
	floor := r.Flows[i].Throughput
	for j, f := range r.Flows {
		switch f.Flow {
		case "gateway", "nginx-authz", "upstream", "nginx-floor":
			r.Flows[j].RatioToFloor = f.Throughput / floor
		}
	}
}

const flowNames = "device-key, passkey, powerauth, gateway, gateway-half, upstream, nginx-authz, nginx-floor"

// checkFlows refuses a flow list that would fail part-way, before any load.
func checkFlows(cfg Config) error {
	for i, flow := range cfg.Flows {
		switch flow {
		case "device-key", "powerauth", "passkey":
		case "upstream":
			if cfg.Upstream == "" {
				return errors.New("the upstream flow needs --upstream (the gateway's upstream base URL)")
			}
		case "nginx-floor":
			if cfg.NginxFloor == "" {
				return errors.New("the nginx-floor flow needs --nginx-floor (nginx proxying to the upstream without a check)")
			}
		case "gateway", "gateway-half", "nginx-authz":
			if flow == "nginx-authz" && cfg.NginxAuthz == "" {
				return errors.New("the nginx-authz flow needs --nginx-authz (nginx asking signet gateway in mode authz)")
			}
			if flow != "nginx-authz" && cfg.Gateway == "" {
				return fmt.Errorf("the %s flow needs --gateway", flow)
			}
			if !slices.Contains(cfg.Flows[:i], "device-key") {
				return fmt.Errorf("the %s flow consumes tokens minted by the device-key flow: list device-key before it", flow)
			}
			if flow == "gateway-half" && !slices.Contains(cfg.Flows[:i], "gateway") {
				return errors.New("the gateway-half flow runs at half the throughput the gateway flow reached: list gateway before it (--flows device-key,gateway,gateway-half)")
			}
			if flow == "gateway-half" && cfg.Rate > 0 {
				return errors.New("the gateway-half flow sets its own pace (half the gateway flow's maximum): drop --rate")
			}
		default:
			return fmt.Errorf("unknown flow %q (%s)", flow, flowNames)
		}
	}
	return nil
}

// gatewayPlan decides how a token-spending flow at the head of flows runs,
// given the tokens minted and what the saturated gateway flow reached (0 if it
// has not run): how many tokens it may use, and its pace (0: saturated). The
// tokens left are shared equally with the token-spending flows that follow
// ("gateway" leaves half for a "gateway-half" after it). "gateway" and
// "nginx-authz" run saturated; "gateway-half" runs at half the saturated
// gateway's maximum, where issue 7's latency target is read.
func gatewayPlan(flows []string, tokens int, gatewayMax float64) (quota int, rate float64, err error) {
	shares := 0
	for _, f := range flows {
		if f == "gateway" || f == "gateway-half" || f == "nginx-authz" {
			shares++
		}
	}
	switch flows[0] {
	case "gateway", "nginx-authz":
		return tokens / shares, 0, nil
	case "gateway-half":
		if gatewayMax <= 0 {
			return 0, 0, errors.New("the gateway flow completed no request, so gateway-half has no maximum to halve")
		}
		return tokens / shares, gatewayMax / 2, nil
	}
	return 0, 0, fmt.Errorf("not a gateway flow: %q", flows[0])
}

// step is one iteration of a flow for one virtual user.
type step func(ctx context.Context) error

var errNoTokens = errors.New("token pool exhausted")

func (r *FlowResult) bound(prims map[string]time.Duration, cores int, names ...string) {
	var sum time.Duration
	for _, n := range names {
		if d, ok := prims[n]; ok {
			sum += d
			r.BoundedBy = append(r.BoundedBy, n)
		}
	}
	if sum > 0 {
		r.Bound = float64(cores) / sum.Seconds()
		r.Ratio = r.Throughput / r.Bound
	}
}

// gatewayCeiling: a gateway request costs the machine at least the ECDSA
// verify and the GETDEL (v + g, the bound's terms) plus what the client and
// the upstream spend on it (u, the upstream flow's CPU per request). So a
// gateway flow reaches at most cores/(v+g+u) per second, which is
// (v+g)/(v+g+u) of its bound cores/(v+g). 0 when unknown.
func gatewayCeiling(prims map[string]time.Duration, u time.Duration) float64 {
	v, okv := prims["ecdsa_verify"]
	g, okg := prims["redis_getdel"]
	if !okv || !okg || u <= 0 {
		return 0
	}
	return float64(v+g) / float64(v+g+u)
}

// runFlow sets up cfg.Users virtual users (untimed), then runs their steps
// concurrently for cfg.Duration.
func (c *client) runFlow(ctx context.Context, name string, cfg Config, setup func(context.Context, string) (step, error), stats *pgStats) (FlowResult, error) {
	vus := make([]step, cfg.Users)
	for i := range vus {
		st, err := setup(ctx, fmt.Sprintf("%s-%d", name, i))
		if err != nil {
			return FlowResult{}, fmt.Errorf("%s: setting up virtual user %d: %w", name, i, err)
		}
		vus[i] = st
	}
	var db0 pgCounters
	if stats != nil {
		var err error
		if db0, err = stats.read(ctx); err != nil {
			return FlowResult{}, fmt.Errorf("postgres statistics: %w", err)
		}
	}
	var (
		mu      sync.Mutex
		lat     []time.Duration
		errs    = map[string]int{}
		nErrors int
	)
	var bar *progressbar.ProgressBar
	total := int64(cfg.Duration / time.Second)
	switch {
	case cfg.Progress != nil && cfg.ProgressBar:
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(cfg.Progress),
			progressbar.OptionSetDescription(name), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	case cfg.Progress != nil:
		fmt.Fprintf(cfg.Progress, "%s: running for %s with %d virtual users\n", name, cfg.Duration, cfg.Users)
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	// The run covers [start, end). runCtx's timer may fire late on a busy
	// machine, so starts and errors are also checked against end itself.
	end, _ := runCtx.Deadline()
	// With a rate, starts follow a fixed schedule (start + i/rate), not a
	// ticker (which drops ticks and ran 20 % below a 2,000/s target), and a
	// flow's latency counts from its scheduled start: a start delayed because
	// every user was busy is part of what a client at that rate would see
	// (no coordinated omission).
	var (
		interval time.Duration
		slot     atomic.Int64
	)
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	start := time.Now()
	cpu0, cpuOK := readMachineCPU()
	var wg sync.WaitGroup
	for _, vu := range vus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil && time.Now().Before(end) {
				t0 := time.Now()
				if interval > 0 {
					t0 = start.Add(time.Duration(slot.Add(1)-1) * interval)
					if !t0.Before(end) {
						return // scheduled after the run
					}
					if wait := time.Until(t0); wait > 0 {
						select {
						case <-time.After(wait):
						case <-runCtx.Done():
							return
						}
					}
				}
				err := vu(runCtx)
				d := time.Since(t0)
				if err != nil && (runCtx.Err() != nil || !time.Now().Before(end)) {
					return // cut off by the end of the run, not a failure
				}
				if errors.Is(err, errNoTokens) {
					return // the gateway flow ends when the minted tokens are used up
				}
				mu.Lock()
				if err != nil {
					nErrors++
					errs[errKind(err)]++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	if bar != nil {
		tick := time.NewTicker(time.Second)
		go func() {
			defer tick.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
					done := min(int64(time.Since(start)/time.Second), total)
					mu.Lock()
					bar.Describe(fmt.Sprintf("%s %ds of %ds, %ds left: %d ok, %d errors", name, done, total, total-done, len(lat), nErrors))
					mu.Unlock()
					_ = bar.Set64(done)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuOK1 := readMachineCPU()
	if bar != nil {
		_ = bar.Finish()
	} else if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "%s: done in %s, %d ok, %d errors\n", name, elapsed.Round(100*time.Millisecond), len(lat), nErrors)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res := FlowResult{Flow: name, Requests: len(lat), Errors: nErrors, Throughput: float64(len(lat)) / elapsed.Seconds(),
		P50: Millis(percentile(lat, 50)), P95: Millis(percentile(lat, 95)), P99: Millis(percentile(lat, 99))}
	if len(errs) > 0 {
		res.ErrorKinds = errs
	}
	if stats != nil {
		db1, err := stats.read(ctx)
		if err != nil {
			return FlowResult{}, fmt.Errorf("postgres statistics: %w", err)
		}
		res.DB = perOp(db0, db1, len(lat))
	}
	if cpuOK && cpuOK1 && cpu1.total > cpu0.total {
		busy := cpu1.busy - cpu0.busy
		res.Busy = float64(busy) / float64(cpu1.total-cpu0.total)
		if len(lat) > 0 {
			res.CPUPerOp = Millis(time.Duration(busy) * clockTick / time.Duration(len(lat)))
		}
	}
	return res, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	return sorted[i]
}

func errKind(err error) string {
	var se *statusError
	if errors.As(err, &se) {
		return fmt.Sprintf("HTTP %d", se.status)
	}
	msg := err.Error()
	if i := strings.Index(msg, ":"); i > 0 && i < 40 {
		return msg[:i]
	}
	if len(msg) > 60 {
		msg = msg[:60]
	}
	return msg
}

// Table renders the report for a terminal.
func (r Report) Table(w io.Writer) {
	fmt.Fprintf(w, "primitives on this machine (%d cores):", r.Cores)
	names := make([]string, 0, len(r.Primitives))
	for n := range r.Primitives {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s %.3f ms", n, float64(r.Primitives[n])/1e6)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "argon2id primitive and passkey bound with m=%d KiB, t=%d, p=%d (the server's SIGNET_ARGON2_* must match)\n",
		r.Argon2.MemoryKiB, r.Argon2.Time, r.Argon2.Threads)
	fmt.Fprintf(w, "%-12s %10s %8s %10s %9s %9s %9s %12s %8s %10s %6s\n", "flow", "completed", "errors", "ops/s", "p50 ms", "p95 ms", "p99 ms", "bound ops/s", "ratio", "cpu/op ms", "busy")
	for _, f := range r.Flows {
		bound, ratio := fmt.Sprintf("%12.1f", f.Bound), fmt.Sprintf("%7.0f%%", f.Ratio*100)
		if f.Bound == 0 { // gateway-half (its throughput is its pace), upstream and nginx-floor (no Signet work): no bound
			bound, ratio = fmt.Sprintf("%12s", "-"), fmt.Sprintf("%8s", "-")
		}
		cpu, busy := fmt.Sprintf("%10s", "-"), fmt.Sprintf("%6s", "-")
		if f.Busy > 0 {
			cpu, busy = fmt.Sprintf("%10.3f", float64(f.CPUPerOp)/1e6), fmt.Sprintf("%5.0f%%", f.Busy*100)
		}
		fmt.Fprintf(w, "%-12s %10d %8d %10.1f %9.2f %9.2f %9.2f %s %s %s %s\n", f.Flow, f.Requests, f.Errors, f.Throughput,
			float64(f.P50)/1e6, float64(f.P95)/1e6, float64(f.P99)/1e6, bound, ratio, cpu, busy)
		if f.Rate > 0 {
			fmt.Fprintf(w, "%-12s   paced at %.0f/s\n", "", f.Rate)
		}
		if f.RatioToFloor > 0 {
			fmt.Fprintf(w, "%-12s   %.0f%% of the nginx floor (nginx proxying to the upstream with no token check)\n", "", f.RatioToFloor*100)
		}
		if f.Flow == "nginx-floor" {
			fmt.Fprintf(w, "%-12s   nginx in front of the upstream, no token, no check: the floor of the nginx-authz flow\n", "")
		}
		if f.DB != nil {
			stmts := "statements: install pg_stat_statements"
			if f.DB.Statements > 0 {
				stmts = fmt.Sprintf("%.1f statements", f.DB.Statements)
			}
			fmt.Fprintf(w, "%-12s   per operation: %.1f commits, %.2f rollbacks, %.1f rows written, %s\n", "",
				f.DB.Commits, f.DB.Rollbacks, f.DB.RowsWrite, stmts)
		}
		if f.Flow == "upstream" {
			fmt.Fprintf(w, "%-12s   the bench client and the upstream alone: no gateway, no token\n", "")
			if f.GatewayCeiling > 0 {
				fmt.Fprintf(w, "%-12s   with it on these cores, a gateway doing nothing but ECDSA verify + GETDEL reaches at most %.0f%% of the gateway bound\n", "", f.GatewayCeiling*100)
			}
		}
		for k, n := range f.ErrorKinds {
			fmt.Fprintf(w, "%-12s   %d × %s\n", "", n, k)
		}
	}
	fmt.Fprintln(w, "bound: the most operations per second these cores could complete if they did nothing but the flow's")
	fmt.Fprintln(w, "  primitives above (cores / their summed cost); ratio: ops/s as a share of that bound, so 100% would mean")
	fmt.Fprintln(w, "  no overhead at all; cpu/op: the whole machine's CPU time per completed operation; busy: how busy the")
	fmt.Fprintln(w, "  machine was during the flow. See docs/performance.md.")
}

type tokenPool struct {
	mu     sync.Mutex
	tokens []string
}

func newTokenPool() *tokenPool { return &tokenPool{} }
func (p *tokenPool) put(t string) {
	p.mu.Lock()
	p.tokens = append(p.tokens, t)
	p.mu.Unlock()
}
func (p *tokenPool) take() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.tokens) == 0 {
		return "", false
	}
	t := p.tokens[len(p.tokens)-1]
	p.tokens = p.tokens[:len(p.tokens)-1]
	return t, true
}
func (p *tokenPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tokens)
}
