package faults

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/signet-sca/signet/gateway"
	"github.com/signet-sca/signet/loadbench"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// The fault run is opt-in (SIGNET_FAULTS=1, set by `make faults` and by CI
// after the main suite) because it restarts the machine's PostgreSQL.
// SIGNET_FAULTS_SHORT=1 shortens the phases for CI.
const (
	envFaults = "SIGNET_FAULTS"
	envShort  = "SIGNET_FAULTS_SHORT"
)

type call struct {
	kind       string // "approve" (device key), "pa-approve" (PowerAuth), "consume" (Signet's endpoint), "pay" (through signet gateway)
	start, end time.Time
	status     int // 200 for success, HTTP status otherwise, 0 transport error
	opID       string
	token      string
}

type log struct {
	mu    sync.Mutex
	calls []call
}

func (l *log) add(c call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

type window struct{ from, to time.Time }

func (w window) covers(c call) bool { return !c.start.Before(w.from) && !c.end.After(w.to) }

func TestFaults(t *testing.T) {
	if os.Getenv(envFaults) != "1" {
		t.Skip("fault runs restart PostgreSQL; run them with `make faults` (CI does)")
	}
	if _, ok := sqltest.Postgres(t); !ok {
		t.Fatal("SIGNET_TEST_POSTGRES_URL is required for the fault run")
	}
	restartPG := postgresRestarter(t)
	short := os.Getenv(envShort) == "1"
	phase := func(long, s time.Duration) time.Duration {
		if short {
			return s
		}
		return long
	}
	ctx := context.Background()
	dbURL := sqltest.NewPostgresSchema(t)
	redis := startRedis(t)
	bin := buildSignet(t)
	srv := startSignet(t, bin, dbURL, redis.url())
	up := newUpstream(t)
	gw := startGateway(t, bin, srv.base, redis.url(), up.URL)
	cl := loadbench.NewClient(loadbench.Config{Server: srv.base, APIKey: srv.apiKey, Gateway: gw,
		HTTPClient: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 32}}})

	const users = 6
	vus := make([]*loadbench.VirtualUser, users)
	for i := range vus {
		vu, err := cl.NewUser(ctx, fmt.Sprintf("fault-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		vus[i] = vu
	}
	// PowerAuth phones, each with operations read before the load: it signs
	// them while Redis is down (reading one then needs Redis), so that its
	// signatures reach the approval during the outage.
	pas := make([]*loadbench.PowerAuthUser, 2)
	prepared := make([][]loadbench.PreparedOperation, len(pas))
	for i := range pas {
		pu, err := cl.NewPowerAuthUser(ctx, fmt.Sprintf("fault-pa-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		pas[i] = pu
		for range 8 {
			p, err := pu.Prepare(ctx)
			if err != nil {
				t.Fatal(err)
			}
			prepared[i] = append(prepared[i], p)
		}
	}
	var redisIsDown atomic.Bool

	// Half the users spend their tokens through Signet's consume endpoint, half
	// pay through signet gateway, which consumes in Redis itself. No token is
	// minted while Redis is down, so the first tokens of the run are set aside
	// (reserve) and spent during the outage: without them no consume or
	// payment would fall inside it.
	var l log
	spenders := []struct {
		kind  string
		spend func(context.Context, string) error
	}{{"consume", cl.Consume}, {"pay", cl.PayThroughGateway}}
	spend := func(ctx context.Context, i int, opID, token string) {
		sp := spenders[i%2]
		s := time.Now()
		err := sp.spend(ctx, token)
		l.add(call{kind: sp.kind, start: s, end: time.Now(), status: statusOf(err), opID: opID, token: token})
	}
	type minted struct{ opID, token string }
	reserve := make(chan minted, 1000)
	// Only tokens minted before the outage go to the reserve: one minted after Redis is back is spent at once,
	// or the first consumes after the return would wait for the drained reserve to fill again (seconds at a slow
	// approval rate) and "back within 5 s" would measure the harness, not Signet.
	var reserving atomic.Bool
	reserving.Store(true)
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, vu := range vus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				s := time.Now()
				opID, token, err := vu.Approve(loadCtx)
				l.add(call{kind: "approve", start: s, end: time.Now(), status: statusOf(err), opID: opID, token: token})
				if err != nil {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if reserving.Load() {
					select {
					case reserve <- minted{opID, token}:
						continue
					default:
					}
				}
				spend(loadCtx, i, opID, token)
			}
		}()
	}

	// PowerAuth phones approve too. After a failure a phone waits half a second,
	// as an app would: every signature it sends moves its counter, and one more
	// than 20 ahead of the server's (the look-ahead) no longer verifies.
	for i, pu := range pas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				s := time.Now()
				var opID string
				var err error
				if ops := prepared[i]; redisIsDown.Load() && len(ops) > 0 {
					opID, err = ops[0].ID(), pu.Sign(loadCtx, ops[0])
					prepared[i] = ops[1:]
				} else {
					opID, err = pu.Approve(loadCtx)
				}
				l.add(call{kind: "pa-approve", start: s, end: time.Now(), status: statusOf(err), opID: opID})
				if err != nil {
					time.Sleep(500 * time.Millisecond)
				}
			}
		}()
	}

	// Phase 1: steady load. Phase 2: Redis stopped for 5 s, the reserve spent
	// meanwhile. Phase 3: steady. Phase 4: PostgreSQL restarted. Phase 5: steady.
	time.Sleep(phase(5*time.Second, 2*time.Second))
	if len(reserve) < 100 {
		t.Fatalf("only %d tokens set aside for the Redis outage", len(reserve))
	}
	reserving.Store(false)
	redisDown := window{from: time.Now()}
	redis.stop(t)
	redisIsDown.Store(true)
	// Eight spenders, as a call may wait out the store's dial timeouts before
	// its 503; each spends at most one token per 50 ms until the reserve is out.
	outage, endOutage := context.WithCancel(ctx)
	var spent sync.WaitGroup
	for i := range 8 {
		spent.Go(func() {
			for outage.Err() == nil {
				select {
				case m := <-reserve:
					spend(ctx, i, m.opID, m.token)
				default:
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	time.Sleep(5 * time.Second)
	endOutage()
	redisIsDown.Store(false)
	redis.start(t)
	redisDown.to = time.Now()
	spent.Wait()
	time.Sleep(phase(5*time.Second, 3*time.Second))
	pgDown := window{from: time.Now()}
	restartPG(t)
	pgDown.to = time.Now()
	time.Sleep(phase(8*time.Second, 6*time.Second))
	stopped := time.Now()
	stopLoad()
	wg.Wait()
	t.Logf("redis down %s, postgres restart %s, %d calls", redisDown.to.Sub(redisDown.from).Round(time.Millisecond),
		pgDown.to.Sub(pgDown.from).Round(time.Millisecond), len(l.calls))

	calls := l.calls
	sort.Slice(calls, func(i, j int) bool { return calls[i].start.Before(calls[j].start) })
	answers := map[string]int{}
	for _, c := range calls {
		phase := "steady"
		switch {
		case redisDown.covers(c):
			phase = "redis down"
		case pgDown.covers(c):
			phase = "postgres restart"
		case c.end.After(redisDown.from) && c.start.Before(redisDown.to):
			phase = "spanning redis's stop or return"
		case c.end.After(pgDown.from) && c.start.Before(pgDown.to):
			phase = "spanning postgres's restart"
		case !c.start.Before(redisDown.to) && c.start.Before(redisDown.to.Add(time.Second)):
			phase = "first second after redis's return"
		case !c.start.Before(pgDown.to) && c.start.Before(pgDown.to.Add(time.Second)):
			phase = "first second after postgres's return"
		}
		answers[fmt.Sprintf("%s: %s %d", phase, c.kind, c.status)]++
	}
	t.Logf("answers: %v", answers)

	t.Run("no request answered 500 or dropped", func(t *testing.T) {
		bad := map[string]int{}
		for _, c := range calls {
			// Transport errors count too, except for calls cut off by the end of the run.
			// The gateway's 502 (upstream failed) would mean a spent token without a payment.
			if c.status == 500 || c.status == 502 || (c.status == 0 && c.end.Before(stopped)) {
				bad[fmt.Sprintf("%s %d", c.kind, c.status)]++
			}
		}
		if len(bad) > 0 {
			t.Fatalf("unexpected answers: %v", bad)
		}
	})

	t.Run("Redis outage: approvals, consumes and gateway payments answered 503, never success", func(t *testing.T) {
		inner := window{from: redisDown.from.Add(300 * time.Millisecond), to: redisDown.to}
		seen := map[string]int{}
		for _, c := range calls {
			if !inner.covers(c) {
				continue
			}
			if (c.kind == "consume" || c.kind == "pay") && c.status != 503 {
				t.Errorf("%s during Redis outage answered %d", c.kind, c.status)
			}
			if (c.kind == "approve" || c.kind == "pa-approve") && c.status == 200 {
				t.Errorf("%s succeeded during Redis outage (op %s)", c.kind, c.opID)
			}
			seen[c.kind]++
		}
		for _, kind := range []string{"approve", "pa-approve", "consume", "pay"} {
			if seen[kind] == 0 {
				t.Errorf("no %s fell inside the Redis outage (%v)", kind, seen)
			}
		}
	})

	t.Run("service back within 5 s of each dependency's return", func(t *testing.T) {
		for name, back := range map[string]time.Time{"redis": redisDown.to, "postgres": pgDown.to} {
			for _, kind := range []string{"consume", "pay"} {
				var first time.Time
				for _, c := range calls {
					if c.kind == kind && c.status == 200 && c.start.After(back) {
						first = c.end
						break
					}
				}
				if first.IsZero() || first.Sub(back) > 5*time.Second {
					t.Errorf("%s: first full success of a %s %v after its return", name, kind, first.Sub(back))
				}
			}
		}
	})

	st, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	t.Run("no operation approved twice", func(t *testing.T) {
		approvals := map[string]int{}
		cursor := ""
		for {
			evs, next, err := st.ListAudit(ctx, store.AuditFilter{Cursor: cursor, Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Type == "operation.approve" && e.Outcome == "success" {
					approvals[e.OperationID]++
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		for op, n := range approvals {
			if n != 1 {
				t.Errorf("operation %s approved %d times", op, n)
			}
		}
		if len(approvals) == 0 {
			t.Fatal("no approvals at all")
		}
	})

	t.Run("no token accepted twice", func(t *testing.T) {
		accepted := map[string]int{}
		var tokens []string
		for _, c := range calls {
			if c.token == "" {
				continue
			}
			if _, ok := accepted[c.token]; !ok {
				tokens = append(tokens, c.token)
				accepted[c.token] = 0
			}
			if (c.kind == "consume" || c.kind == "pay") && c.status == 200 {
				accepted[c.token]++
			}
		}
		// Every token again, through Signet's endpoint, now that everything is
		// up (the gateway and Signet consume the same JTI in Redis). One already
		// accepted, by either, is refused (409). One never accepted (answered
		// 503, or cut off by the end of the run) may be accepted now, once: a
		// second try is refused. One whose JTI Redis lost when it was killed is refused.
		// An expired one may be answered 400.
		for _, tok := range tokens {
			n := accepted[tok]
			if n > 1 {
				t.Errorf("token accepted %d times: %s", n, history(calls, tok, redisDown, pgDown))
			}
			st := statusOf(cl.Consume(ctx, tok))
			switch {
			case st == 409, st == 400 && expired(tok):
			case st == 200 && n == 0:
				if again := statusOf(cl.Consume(ctx, tok)); again != 409 {
					t.Errorf("token accepted after the run, then answered %d on a second try: %s", again, history(calls, tok, redisDown, pgDown))
				}
			default:
				t.Errorf("token accepted %d time(s) during the run answered %d when tried again: %s", n, st, history(calls, tok, redisDown, pgDown))
			}
		}
	})

	t.Run("the upstream received each gateway payment once", func(t *testing.T) {
		got := up.received()
		paid := map[string]bool{}
		for _, c := range calls {
			if c.kind != "pay" {
				continue
			}
			if c.status == 200 && got[c.opID] != 1 {
				t.Errorf("gateway accepted the payment of %s; the upstream received it %d times", c.opID, got[c.opID])
			}
			paid[c.opID] = true
		}
		for op, n := range got {
			// A payment whose answer was cut off by the end of the run may have reached it, once.
			if n != 1 || !paid[op] {
				t.Errorf("upstream received operation %q %d times (paid through the gateway: %v)", op, n, paid[op])
			}
		}
		if len(got) == 0 {
			t.Fatal("the upstream received nothing")
		}
	})

	t.Run("no customer locked out by the outages", func(t *testing.T) {
		// A store or Redis error must never count as a failed signature: every
		// device key and every PowerAuth activation still approves.
		for i, vu := range vus {
			if _, _, err := vu.Approve(ctx); err != nil {
				t.Errorf("device-key user %d: %v", i, err)
			}
		}
		for i, pu := range pas {
			if _, err := pu.Approve(ctx); err != nil {
				t.Errorf("PowerAuth user %d: %v", i, err)
			}
		}
	})

	t.Run("every APPROVED operation's token is readable by the bank", func(t *testing.T) {
		ops := map[string]bool{}
		for _, c := range calls {
			if c.opID != "" {
				ops[c.opID] = true
			}
		}
		approved := 0
		for id := range ops {
			status, token, err := cl.OperationToken(ctx, id)
			if err != nil {
				t.Fatalf("read %s: %v", id, err)
			}
			if status == "APPROVED" {
				approved++
				if token == "" {
					t.Errorf("operation %s is APPROVED but its token is not readable", id)
				}
			}
		}
		if approved == 0 {
			t.Fatal("no APPROVED operations")
		}
	})
}

// history describes a token's calls relative to the outages, for failure messages.
func history(calls []call, token string, redisDown, pgDown window) string {
	var b strings.Builder
	for _, c := range calls {
		if c.token == token {
			fmt.Fprintf(&b, "[%s %d start redis%+v pg%+v took %v] ", c.kind, c.status,
				c.start.Sub(redisDown.from).Round(time.Millisecond), c.start.Sub(pgDown.from).Round(time.Millisecond),
				c.end.Sub(c.start).Round(time.Millisecond))
		}
	}
	return b.String()
}

// expired reports whether a token's exp has passed (a 400 is then right).
func expired(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var exp int64
	if i := strings.Index(string(raw), `"exp":`); i >= 0 {
		fmt.Sscanf(string(raw[i+6:]), "%d", &exp)
	}
	return exp > 0 && time.Now().Unix() >= exp
}

func statusOf(err error) int {
	if err == nil {
		return 200
	}
	return loadbench.Status(err)
}

// --- processes -------------------------------------------------------------

type redisProc struct {
	port int
	cmd  *exec.Cmd
}

func (r *redisProc) url() string {
	return fmt.Sprintf("redis://127.0.0.1:%d/0?max_retries=1&dial_timeout=500ms&read_timeout=1s&write_timeout=1s", r.port)
}

func startRedis(t *testing.T) *redisProc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is required for the fault run")
	}
	r := &redisProc{port: freePort(t)}
	r.start(t)
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *redisProc) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command("redis-server", "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitTCP(t, fmt.Sprintf("127.0.0.1:%d", r.port), 10*time.Second)
}

func (r *redisProc) stop(t *testing.T) {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// postgresRestarter returns how to restart the local cluster:
// SIGNET_FAULTS_PG_RESTART (a shell command) or Debian's pg_ctlcluster.
func postgresRestarter(t *testing.T) func(t *testing.T) {
	cmdline := os.Getenv("SIGNET_FAULTS_PG_RESTART")
	if cmdline == "" {
		versions, _ := filepath.Glob("/etc/postgresql/*/main")
		if len(versions) == 0 {
			t.Fatal("cannot restart PostgreSQL: set SIGNET_FAULTS_PG_RESTART or install Debian's postgresql")
		}
		ver := filepath.Base(filepath.Dir(versions[0]))
		cmdline = "pg_ctlcluster --skip-systemctl-redirect " + ver + " main restart -m fast"
	}
	return func(t *testing.T) {
		out, err := exec.Command("sh", "-c", cmdline).CombinedOutput()
		if err != nil {
			t.Fatalf("restart PostgreSQL (%s): %v\n%s", cmdline, err, out)
		}
		waitTCP(t, "127.0.0.1:5432", 30*time.Second)
	}
}

func buildSignet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signet")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/signet").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

type signetProc struct {
	base, apiKey string
}

func startSignet(t *testing.T, bin, dbURL, redisURL string) *signetProc {
	t.Helper()
	port := freePort(t)
	secret := "fault-run-secret-0123456789"
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"SIGNET_HTTP_ADDR=127.0.0.1:"+fmt.Sprint(port),
		"SIGNET_DATABASE_URL="+dbURL,
		"SIGNET_REDIS_URL="+redisURL,
		"SIGNET_API_KEYS=bank:"+secret+":admin", // the bench creates a PowerAuth application
		"SIGNET_KEK=q0wLxGSEGpW1G1tx2d0k1m3vP9V0hP4a0bB5l3P6yS8=",
		"SIGNET_LOG_LEVEL=warn",
		"SIGNET_REQUEST_TIMEOUT=5s",
		// Every simulated phone and browser comes from 127.0.0.1: one client address.
		"SIGNET_RATE_LIMIT_ADDRESS=off",
	)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	startProcess(t, cmd, "signet", base)
	return &signetProc{base: base, apiKey: secret}
}

// startProcess starts cmd, logging to a file shown if the test fails, stops it with
// an interrupt at the end of the test, and waits until base/readyz answers 200.
func startProcess(t *testing.T, cmd *exec.Cmd, name, base string) {
	t.Helper()
	logFile, _ := os.Create(filepath.Join(t.TempDir(), "process.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("%s log:\n%s", name, tail(string(b), 4000))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not become ready", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// upstream is the payment API behind the gateway: it counts the payments it
// receives by the operation the gateway says the token approved.
type upstream struct {
	*httptest.Server
	mu  sync.Mutex
	ops map[string]int
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{ops: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.ops[r.Header.Get("Signet-Operation")]++
		u.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) received() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return maps.Clone(u.ops)
}

// startGateway runs signet gateway in front of upstream, verifying against
// Signet's JWKS and consuming in the Redis Signet records tokens in. It
// returns the gateway's base URL once it is ready (JWKS loaded, Redis up).
func startGateway(t *testing.T, bin, signet, redisURL, upstream string) string {
	t.Helper()
	port := freePort(t)
	// The configuration a bank writes, through gateway.Config and YAML, as
	// signet gateway reads it.
	yes := true
	raw, err := yaml.Marshal(&gateway.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), Upstream: upstream,
		JWKSURL: signet + "/.well-known/jwks.json", Issuer: "http://localhost:8080", Audience: "signet-gateway",
		Consume: gateway.ConsumeConfig{RedisURL: redisURL},
		// The run approves with device keys alone (one factor): the route says it accepts them.
		Routes: []gateway.Route{{Method: "POST", Path: "/payments", RequireToken: &yes, RequireACR: "1fa",
			Binding: &gateway.Binding{Amount: "/amount", Currency: "/currency", PayeeAccount: "/creditor_account"}}}})
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(conf, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "gateway", "-c", conf)
	cmd.Env = append(os.Environ(), "SIGNET_LOG_LEVEL=warn")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	startProcess(t, cmd, "signet gateway", base)
	return base
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitTCP(t *testing.T, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
