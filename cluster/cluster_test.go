package cluster

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
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
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signet-sca/signet/loadbench"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/store/sqlstore/sqltest"
)

// The replica run is opt-in (SIGNET_CLUSTER=1, set by `make cluster` and by
// CI after the fault run): it builds the binary and runs five processes.
// SIGNET_CLUSTER_SHORT=1 shortens the phases for CI.
const (
	envCluster = "SIGNET_CLUSTER"
	envShort   = "SIGNET_CLUSTER_SHORT"
)

// Health checks: HAProxy asks /readyz every checkInter and takes a replica out
// after checkFall failures; the replicas drain for longer than that, so that no
// new request reaches a replica that has stopped accepting.
const (
	checkInter = 500 * time.Millisecond
	checkFall  = 2
	checkRise  = 2
	drain      = 3 * time.Second // > checkInter × checkFall, with room for one slow check
	apiSecret  = "cluster-run-secret-0123456789"
	kek        = "q0wLxGSEGpW1G1tx2d0k1m3vP9V0hP4a0bB5l3P6yS8="
	hookSecret = "cluster-run-webhook-secret-0123456789abcdef"
)

type call struct {
	kind       string // "approve" (device key), "pa-approve" (PowerAuth), "passkey-approve", "consume", "long-poll", "sse"
	start, end time.Time
	status     int // 200 success, HTTP status otherwise, 0 transport error
	opID       string
	token      string
	err        string
}

type callLog struct {
	mu    sync.Mutex
	calls []call
}

func (l *callLog) add(c call) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

func (l *callLog) snapshot() []call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]call(nil), l.calls...)
}

// woke is what a waiter saw last: the operation's status and when.
type woke struct {
	status     string
	at         time.Time
	reconnects int // event streams re-opened after a replica ended them (retry hint)
}

func TestCluster(t *testing.T) {
	if os.Getenv(envCluster) != "1" {
		t.Skip("the replica run starts three servers and HAProxy; run it with `make cluster` (CI does)")
	}
	if _, ok := sqltest.Postgres(t); !ok {
		t.Fatal("SIGNET_TEST_POSTGRES_URL is required for the replica run")
	}
	redisURL := os.Getenv("SIGNET_TEST_REDIS_URL")
	if redisURL == "" {
		t.Fatal("SIGNET_TEST_REDIS_URL is required for the replica run")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		haproxy, err = exec.LookPath("/usr/sbin/haproxy") // Debian's, when /usr/sbin is not on PATH
	}
	if err != nil {
		t.Fatal("haproxy is required for the replica run (Debian: apt-get install haproxy)")
	}
	short := os.Getenv(envShort) == "1"
	phase := func(long, s time.Duration) time.Duration {
		if short {
			return s
		}
		return long
	}
	ctx := context.Background()
	dbURL := sqltest.NewPostgresSchema(t)
	bin := buildSignet(t)
	hooks := newHookReceiver(t)

	env := []string{
		"SIGNET_DATABASE_URL=" + dbURL,
		"SIGNET_REDIS_URL=" + redisURL,
		"SIGNET_API_KEYS=bank:" + apiSecret + ":admin", // the run creates a PowerAuth application
		"SIGNET_KEK=" + kek,
		"SIGNET_LOG_LEVEL=warn",
		"SIGNET_REQUEST_TIMEOUT=10s",
		"SIGNET_RATE_LIMIT_ADDRESS=off", // every simulated phone comes from 127.0.0.1
		"SIGNET_SHUTDOWN_DRAIN=" + drain.String(),
		"SIGNET_WEBHOOK_SECRET=" + hookSecret,
		"SIGNET_WEBHOOK_DEFAULT_URL=" + hooks.URL + "/hooks",
	}
	replicas := make([]*replica, 3)
	for i := range replicas {
		replicas[i] = &replica{name: fmt.Sprintf("signet-%d", i+1), bin: bin, port: freePort(t), env: env}
		t.Cleanup(func() { replicas[i].stop(t) })
	}
	// The first replica migrates the schema and creates the signing keys before the others start.
	replicas[0].start(t)
	lbPort := freePort(t)
	lb := &balancer{bin: haproxy, port: lbPort, dir: t.TempDir()}
	t.Cleanup(lb.stop)
	base := fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	httpClient := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 64, MaxIdleConnsPerHost: 64}}
	cl := loadbench.NewClient(loadbench.Config{Server: base, APIKey: apiSecret, HTTPClient: httpClient})

	// --- throughput: the same load through the balancer to one replica, then to three.
	lb.start(t, replicas[:1])
	const users = 8
	vus := make([]*loadbench.VirtualUser, users)
	for i := range vus {
		if vus[i], err = cl.NewUser(ctx, fmt.Sprintf("cluster-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	measure := func() float64 {
		d := phase(10*time.Second, 3*time.Second)
		var n atomic.Int64
		mctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var wg sync.WaitGroup
		for _, vu := range vus {
			wg.Go(func() {
				for mctx.Err() == nil {
					if _, token, err := vu.Approve(mctx); err == nil && cl.Consume(mctx, token) == nil {
						n.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return float64(n.Load()) / d.Seconds()
	}
	one := measure()
	// Operations left to expire (30 s, the minimum): the three replicas' sweepers race to expire them.
	var expiring []string
	expiringFrom := time.Now()
	for i := range 6 {
		var op struct{ ID string }
		if err := bankCall(ctx, httpClient, "POST", base+"/v1/operations", map[string]any{"user_id": newUserID(t, ctx, httpClient, base, i),
			"type": "payment", "payee": map[string]string{"account": "DE89370400440532013000", "name": "Expiring Payee"},
			"amount": "1.00", "currency": "EUR", "expires_in": 30}, &op); err != nil {
			t.Fatal(err)
		}
		expiring = append(expiring, op.ID)
	}

	for _, r := range replicas[1:] {
		r.start(t)
	}
	lb.stop()
	lb.start(t, replicas)
	three := measure()
	t.Logf("throughput through HAProxy, %d users (device-key approval + consume): 1 replica %.1f/s, 3 replicas %.1f/s (×%.2f)",
		users, one, three, three/one)

	// --- rolling restart under load, with a key rotation in the middle.
	pas := make([]*loadbench.PowerAuthUser, 2)
	for i := range pas {
		if pas[i], err = cl.NewPowerAuthUser(ctx, fmt.Sprintf("cluster-pa-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// One customer approving with a passkey and passcode in the browser: each approval runs an
	// Argon2 passcode check, so one is load enough on a shared machine.
	pk, err := newPasskeyUser(ctx, httpClient, base, "http://localhost:8080", "cluster-passkey")
	if err != nil {
		t.Fatal(err)
	}
	var l callLog
	var waitersMu sync.Mutex
	waiters := map[string][]*woke{} // operation id -> its long-poll and event-stream waiters
	stopWaiting := map[string]context.CancelFunc{}
	approvedAt := map[string]time.Time{}
	var waiterWG sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, vu := range vus {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				s := time.Now()
				p, err := vu.Create(loadCtx)
				if err != nil {
					l.add(call{kind: "approve", start: s, end: time.Now(), status: statusOf(err), err: errString(err)})
					time.Sleep(20 * time.Millisecond)
					continue
				}
				lp, sse := &woke{}, &woke{}
				wctx, cancel := context.WithCancel(ctx)
				waitersMu.Lock()
				waiters[p.ID()] = []*woke{lp, sse}
				stopWaiting[p.ID()] = cancel
				waitersMu.Unlock()
				waiterWG.Add(2)
				go func() { defer waiterWG.Done(); longPoll(wctx, httpClient, base, p.ID(), lp, &l) }()
				go func() { defer waiterWG.Done(); eventStream(wctx, httpClient, base, p.ID(), sse, &l) }()
				time.Sleep(30 * time.Millisecond) // the waiters are listening when the phone approves
				token, err := vu.Finish(loadCtx, p)
				end := time.Now()
				l.add(call{kind: "approve", start: s, end: end, status: statusOf(err), opID: p.ID(), token: token, err: errString(err)})
				if err != nil {
					continue
				}
				waitersMu.Lock()
				approvedAt[p.ID()] = end
				waitersMu.Unlock()
				s = time.Now()
				err = cl.Consume(loadCtx, token)
				l.add(call{kind: "consume", start: s, end: time.Now(), status: statusOf(err), opID: p.ID(), token: token, err: errString(err)})
			}
		})
	}
	wg.Go(func() {
		for loadCtx.Err() == nil {
			s := time.Now()
			opID, err := pk.approve(loadCtx)
			l.add(call{kind: "passkey-approve", start: s, end: time.Now(), status: statusOf(err), opID: opID, err: errString(err)})
			time.Sleep(100 * time.Millisecond)
		}
	})
	for _, pu := range pas {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				s := time.Now()
				opID, err := pu.Approve(loadCtx)
				l.add(call{kind: "pa-approve", start: s, end: time.Now(), status: statusOf(err), opID: opID, err: errString(err)})
				if err != nil {
					time.Sleep(500 * time.Millisecond) // as an app would; its counter moved
				}
			}
		})
	}

	// Waiters that span every restart: operations approved only after the last one. Their
	// long-polls are answered PENDING by a replica shutting down and ask again; their event
	// streams end there and re-open after the retry hint.
	type slowOp struct {
		vu *loadbench.VirtualUser
		p  loadbench.PendingOperation
	}
	var slow []slowOp
	for _, vu := range vus[:4] {
		p, err := vu.Create(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lp, sse := &woke{}, &woke{}
		waitersMu.Lock()
		waiters[p.ID()] = []*woke{lp, sse}
		waitersMu.Unlock()
		waiterWG.Add(2)
		go func() { defer waiterWG.Done(); longPoll(ctx, httpClient, base, p.ID(), lp, &l) }()
		go func() { defer waiterWG.Done(); eventStream(ctx, httpClient, base, p.ID(), sse, &l) }()
		slow = append(slow, slowOp{vu, p})
	}

	time.Sleep(phase(5*time.Second, time.Second))
	var restarts, restartTimes []string
	for i, r := range replicas {
		s := time.Now()
		r.stop(t)
		stopped := time.Now()
		restartTimes = append(restartTimes, fmt.Sprintf("%s SIGTERM %s exit %s", r.name, s.Format("15:04:05.000"), stopped.Format("15:04:05.000")))
		r.start(t)
		// Back in HAProxy's rotation (checkRise good checks) before the next one goes.
		time.Sleep(checkInter*time.Duration(checkRise) + checkInter)
		restarts = append(restarts, fmt.Sprintf("%s stopped in %s, back after %s", r.name,
			stopped.Sub(s).Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond)))
		if i == 0 {
			out, err := r.command("keys", "rotate").CombinedOutput()
			if err != nil {
				t.Fatalf("signet keys rotate: %v\n%s", err, out)
			}
			t.Logf("signet keys rotate: %s", strings.TrimSpace(string(out)))
		}
		time.Sleep(phase(3*time.Second, 500*time.Millisecond))
	}
	for _, so := range slow {
		s := time.Now()
		token, err := so.vu.Finish(ctx, so.p)
		l.add(call{kind: "approve", start: s, end: time.Now(), status: statusOf(err), opID: so.p.ID(), token: token, err: errString(err)})
		if err != nil {
			t.Fatalf("approving %s after the restarts: %v", so.p.ID(), err)
		}
		waitersMu.Lock()
		approvedAt[so.p.ID()] = time.Now()
		waitersMu.Unlock()
	}
	time.Sleep(phase(5*time.Second, 2*time.Second))
	stopLoad()
	wg.Wait()
	// Operations whose approval the end of the load cut off stay PENDING: their waiters stop here.
	for id, cancel := range stopWaiting {
		if _, ok := approvedAt[id]; !ok {
			cancel()
		}
	}
	doneWaiting := make(chan struct{})
	go func() { waiterWG.Wait(); close(doneWaiting) }()
	select {
	case <-doneWaiting:
	case <-time.After(70 * time.Second):
		t.Fatal("waiters still waiting 70 s after the load stopped")
	}
	t.Logf("restarts: %s", strings.Join(restarts, "; "))

	calls := l.snapshot()
	sort.Slice(calls, func(i, j int) bool { return calls[i].start.Before(calls[j].start) })
	counts := map[string]int{}
	for _, c := range calls {
		counts[fmt.Sprintf("%s %d", c.kind, c.status)]++
	}
	t.Logf("answers: %v", counts)

	t.Run("no request failed through the balancer", func(t *testing.T) {
		for _, kind := range []string{"approve", "pa-approve", "passkey-approve", "consume", "long-poll", "sse"} {
			if counts[kind+" 200"] == 0 {
				t.Errorf("no %s succeeded during the restarts", kind)
			}
		}
		for _, c := range calls {
			// Calls cut off by the end of the load (context cancelled) are not answers.
			if c.status != 200 && !(c.status == 0 && strings.Contains(c.err, "context canceled")) {
				t.Errorf("%s of %s answered %d at %s: %s", c.kind, c.opID, c.status, c.start.Format("15:04:05.000"), c.err)
			}
		}
	})

	t.Run("every waiter woke with the operation's final status", func(t *testing.T) {
		var lat []time.Duration
		reconnects, checked := 0, 0
		for id, at := range approvedAt {
			for i, w := range waiters[id] {
				kind := []string{"long-poll", "event stream"}[i]
				checked++
				reconnects += w.reconnects
				if w.status != "APPROVED" {
					t.Errorf("%s of approved operation %s ended with %q", kind, id, w.status)
					continue
				}
				late := max(0, w.at.Sub(at))
				lat = append(lat, late)
				// A notice is delivered within milliseconds; an event stream re-opened after a
				// replica ended it adds its retry hint (2 s). Later than that, the waiter was woken
				// by the 30 s safety poll: a missed notice.
				if late > 5*time.Second {
					t.Errorf("%s of operation %s woke %s after the approval answer (approved %s)", kind, id,
						late.Round(time.Millisecond), at.Format("15:04:05.000"))
				}
			}
		}
		if checked == 0 {
			t.Fatal("no waiters")
		}
		slowReconnects := 0
		for _, so := range slow {
			slowReconnects += waiters[so.p.ID()][1].reconnects
		}
		if slowReconnects == 0 {
			t.Errorf("no event stream spanning the restarts was ended by one: the restarts did not reach the waiters")
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		t.Logf("%d waiters on %d approved operations; wake-up after the approval answer: p50 %s, p99 %s, max %s; %d event streams re-opened after a replica ended them",
			checked, len(approvedAt), pct(lat, 50), pct(lat, 99), pct(lat, 100), reconnects)
	})

	st, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The expiring operations, each read until the sweepers have expired it.
	for _, id := range expiring {
		for deadline := expiringFrom.Add(45 * time.Second); ; {
			op, err := st.GetOperation(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if op.Status == store.OpExpired {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("operation %s still %s 45 s after it was created with expires_in 30", id, op.Status)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	audits := map[string]int{} // "type outcome op" -> count
	for cursor := ""; ; {
		evs, next, err := st.ListAudit(ctx, store.AuditFilter{Cursor: cursor, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.OperationID != "" {
				audits[e.Type+" "+string(e.Outcome)+" "+e.OperationID]++
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}

	t.Run("no operation approved or expired twice", func(t *testing.T) {
		approvals := 0
		for k, n := range audits {
			if strings.HasPrefix(k, "operation.approve success ") || strings.HasPrefix(k, "operation.expire success ") {
				approvals++
				if n != 1 {
					t.Errorf("%s: %d audit records", k, n)
				}
			}
		}
		for _, c := range calls {
			if (c.kind == "approve" || c.kind == "pa-approve" || c.kind == "passkey-approve") && c.status == 200 && audits["operation.approve success "+c.opID] != 1 {
				t.Errorf("%s of %s answered 200 but the audit log has %d approvals", c.kind, c.opID, audits["operation.approve success "+c.opID])
			}
		}
		for _, id := range expiring {
			if audits["operation.expire success "+id] != 1 {
				t.Errorf("operation %s expired with %d audit records", id, audits["operation.expire success "+id])
			}
		}
		if approvals == 0 {
			t.Fatal("no approvals in the audit log")
		}
	})

	t.Run("the signing key rotated and both keys' tokens were consumed", func(t *testing.T) {
		kids := map[string]int{}
		for _, c := range calls {
			if c.kind == "consume" && c.status == 200 {
				kids[kidOf(c.token)]++
			}
		}
		if len(kids) < 2 {
			t.Errorf("tokens consumed under %d signing key(s) (%v); the rotation should show two", len(kids), kids)
		}
	})

	t.Run("every webhook event delivered exactly once", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var total, pending int
		for deadline := time.Now().Add(30 * time.Second); ; {
			if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE delivered_at IS NULL) FROM outbox_events`).Scan(&total, &pending); err != nil {
				t.Fatal(err)
			}
			if pending == 0 {
				break
			}
			if time.Now().After(deadline) {
				rows, _ := conn.Query(ctx, `SELECT id, type, attempts, created_at, next_attempt_at, last_error FROM outbox_events WHERE delivered_at IS NULL LIMIT 10`)
				got := hooks.received()
				for rows.Next() {
					var id, typ, lastErr string
					var attempts int
					var created, next time.Time
					_ = rows.Scan(&id, &typ, &attempts, &created, &next, &lastErr)
					t.Logf("undelivered %s %s: attempts %d, created %s, next attempt %s, last error %q, received %d times",
						id, typ, attempts, created.Format("15:04:05.000"), next.Format("15:04:05.000"), lastErr, got[id].n)
				}
				rows.Close()
				t.Logf("restarts at: %s", strings.Join(restartTimes, ", "))
				t.Fatalf("%d of %d outbox events still undelivered 30 s after the load", pending, total)
			}
			time.Sleep(200 * time.Millisecond)
		}
		got := hooks.received()
		if len(got) != total {
			t.Errorf("the outbox holds %d events, the receiver got %d distinct ones", total, len(got))
		}
		byOp := map[string]string{}
		for id, h := range got {
			if h.n != 1 {
				t.Errorf("event %s (%s of %s) delivered %d times", id, h.typ, h.op, h.n)
			}
			byOp[h.op] = h.typ
		}
		for id := range approvedAt {
			if byOp[id] != "operation.approved" {
				t.Errorf("approved operation %s: webhook %q", id, byOp[id])
			}
		}
		for _, c := range calls {
			if (c.kind == "pa-approve" || c.kind == "passkey-approve") && c.status == 200 && byOp[c.opID] != "operation.approved" {
				t.Errorf("%s of operation %s: webhook %q", c.kind, c.opID, byOp[c.opID])
			}
		}
		for _, id := range expiring {
			if byOp[id] != "operation.expired" {
				t.Errorf("expired operation %s: webhook %q", id, byOp[id])
			}
		}
		t.Logf("%d webhook events, each delivered once", total)
	})
}

// --- clients -----------------------------------------------------------------

// longPoll waits for op's final status with ?wait=, asking again while it is PENDING,
// as a bank's page does.
func longPoll(ctx context.Context, hc *http.Client, base, opID string, w *woke, l *callLog) {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		s := time.Now()
		var op struct{ Status string }
		err := bankCall(ctx, hc, "GET", base+"/v1/operations/"+opID+"?wait=15s", nil, &op)
		if err != nil {
			l.add(call{kind: "long-poll", start: s, end: time.Now(), status: statusOf(err), opID: opID, err: err.Error()})
			return
		}
		w.status, w.at = op.Status, time.Now()
		if op.Status != "PENDING" {
			l.add(call{kind: "long-poll", start: s, end: w.at, status: 200, opID: opID})
			return
		}
	}
}

// eventStream reads op's event stream until a terminal status, re-opening it after the
// retry hint when a replica ends it first (an EventSource does the same).
func eventStream(ctx context.Context, hc *http.Client, base, opID string, w *woke, l *callLog) {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		s := time.Now()
		retry, terminal, err := readStream(ctx, hc, base+"/v1/operations/"+opID+"/events", w)
		if err != nil {
			l.add(call{kind: "sse", start: s, end: time.Now(), status: statusOf(err), opID: opID, err: err.Error()})
			return
		}
		if terminal {
			l.add(call{kind: "sse", start: s, end: time.Now(), status: 200, opID: opID})
			return
		}
		w.reconnects++
		time.Sleep(retry)
	}
}

func readStream(ctx context.Context, hc *http.Client, url string, w *woke) (retry time.Duration, terminal bool, err error) {
	retry = 3 * time.Second // the WHATWG default is implementation-defined; Signet sends its own
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+apiSecret)
	req.Header.Set("Accept", "text/event-stream")
	// No client timeout on a stream: the server's keep-alive and terminal event bound it.
	resp, err := (&http.Client{Transport: hc.Transport}).Do(req)
	if err != nil {
		return retry, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return retry, false, &httpError{resp.StatusCode, string(b)}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "retry:"):
			var ms int
			if _, err := fmt.Sscanf(strings.TrimSpace(line[6:]), "%d", &ms); err == nil {
				retry = time.Duration(ms) * time.Millisecond
			}
		case strings.HasPrefix(line, "data:"):
			var op struct{ Status string }
			if err := json.Unmarshal([]byte(strings.TrimSpace(line[5:])), &op); err != nil {
				return retry, false, fmt.Errorf("event data: %w", err)
			}
			w.status, w.at = op.Status, time.Now()
			if op.Status != "PENDING" {
				return retry, true, nil
			}
		}
	}
	// The stream ended before a terminal status: a replica shutting down, or a cut connection.
	return retry, false, nil
}

type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

func bankCall(ctx context.Context, hc *http.Client, method, url string, in, out any) error {
	return webCall(ctx, hc, method, url, "Bearer "+apiSecret, in, out)
}

// webCall sends JSON with the given Authorization header ("" for none) and decodes the answer.
func webCall(ctx context.Context, hc *http.Client, method, url, authorization string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return &httpError{resp.StatusCode, strings.TrimSpace(string(raw))}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// newUserID creates user i of the expiring operations (no credentials) and returns its id.
func newUserID(t *testing.T, ctx context.Context, hc *http.Client, base string, i int) string {
	t.Helper()
	var u struct{ ID string }
	if err := bankCall(ctx, hc, "POST", base+"/v1/users", map[string]string{"external_id": fmt.Sprintf("cluster-expiring-%d", i)}, &u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func statusOf(err error) int {
	if err == nil {
		return 200
	}
	if he, ok := err.(*httpError); ok {
		return he.status
	}
	return loadbench.Status(err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func kidOf(token string) string {
	h, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct{ Kid string }
	_ = json.Unmarshal(raw, &hdr)
	return hdr.Kid
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := (len(d)*p+99)/100 - 1
	return d[max(0, min(i, len(d)-1))].Round(time.Millisecond)
}

// hookReceiver is the bank's webhook endpoint: it counts deliveries by event id.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events map[string]*hook
}

type hook struct {
	typ, op string
	n       int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{events: map[string]*hook{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			ID          string `json:"id"`
			Type        string `json:"type"`
			OperationID string `json:"operation_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.ID == "" {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		e := h.events[ev.ID]
		if e == nil {
			e = &hook{typ: ev.Type, op: ev.OperationID}
			h.events[ev.ID] = e
		}
		e.n++
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) received() map[string]hook {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]hook{}
	for id, e := range h.events {
		out[id] = *e
	}
	return out
}

// --- processes -------------------------------------------------------------

func buildSignet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "signet")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/signet").CombinedOutput()
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// replica is one `signet serve` on a fixed port, so that HAProxy finds it again after a restart.
type replica struct {
	name, bin string
	port      int
	env       []string
	cmd       *exec.Cmd
	logs      []string // every run's log file
}

func (r *replica) command(args ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, args...)
	cmd.Env = append(os.Environ(), r.env...)
	cmd.Env = append(cmd.Env, fmt.Sprintf("SIGNET_HTTP_ADDR=127.0.0.1:%d", r.port))
	return cmd
}

func (r *replica) base() string { return fmt.Sprintf("http://127.0.0.1:%d", r.port) }

func (r *replica) start(t *testing.T) {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), r.name+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	r.logs = append(r.logs, logFile.Name())
	r.cmd = r.command("serve")
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(r.base() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logFile.Name())
			t.Fatalf("%s did not become ready:\n%s", r.name, tail(string(b), 4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM, as an orchestrator does, and waits for the drain and shutdown.
func (r *replica) stop(t *testing.T) {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s exited with %v", r.name, err)
		}
	case <-time.After(drain + 30*time.Second):
		_ = r.cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop within %s of SIGTERM", r.name, drain+30*time.Second)
	}
	r.cmd = nil
	if t.Failed() {
		for _, f := range r.logs {
			b, _ := os.ReadFile(f)
			t.Logf("%s log %s:\n%s", r.name, filepath.Base(f), tail(string(b), 3000))
		}
		r.logs = nil
	}
}

// balancer is HAProxy in front of the replicas, with the configuration docs/deployment.md shows.
type balancer struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
	log      string
}

// haproxyConfig is docs/deployment.md's configuration: bind is the frontend's address,
// servers are "name address" pairs.
func haproxyConfig(bind string, servers [][2]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096

defaults
    mode http
    option httplog
    option forwardfor
    timeout connect 2s
    timeout client 75s
    timeout server 75s
    timeout http-keep-alive 10s
    # A request whose connection to a replica fails is sent to another one.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend signet
    bind %s
    default_backend signet

backend signet
    balance roundrobin
    option httpchk
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check inter %dms fall %d rise %d
`, bind, checkInter.Milliseconds(), checkFall, checkRise)
	for _, sv := range servers {
		fmt.Fprintf(&b, "    server %s %s\n", sv[0], sv[1])
	}
	return b.String()
}

// TestDeploymentDocShowsTheRunsConfig: docs/deployment.md's HAProxy block is what the replica
// run renders, with the document's addresses.
func TestDeploymentDocShowsTheRunsConfig(t *testing.T) {
	raw, err := os.ReadFile("../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "```haproxy\n" + haproxyConfig("0.0.0.0:8080", [][2]string{{"signet-1", "10.0.0.11:8080"},
		{"signet-2", "10.0.0.12:8080"}, {"signet-3", "10.0.0.13:8080"}}) + "```\n"
	if !strings.Contains(string(raw), want) {
		t.Errorf("docs/deployment.md does not show the run's HAProxy configuration:\n%s", want)
	}
	if !strings.Contains(string(raw), fmt.Sprintf("SIGNET_SHUTDOWN_DRAIN=%s", drain)) {
		t.Errorf("docs/deployment.md does not show the run's SIGNET_SHUTDOWN_DRAIN=%s", drain)
	}
}

func (lb *balancer) start(t *testing.T, servers []*replica) {
	t.Helper()
	cfg := filepath.Join(lb.dir, "haproxy.cfg")
	var sv [][2]string
	for _, r := range servers {
		sv = append(sv, [2]string{r.name, fmt.Sprintf("127.0.0.1:%d", r.port)})
	}
	if err := os.WriteFile(cfg, []byte(haproxyConfig(fmt.Sprintf("127.0.0.1:%d", lb.port), sv)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(lb.bin, "-c", "-q", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	logFile, _ := os.CreateTemp(lb.dir, "haproxy-*.log")
	lb.log = logFile.Name()
	lb.cmd = exec.Command(lb.bin, "-db", "-f", cfg)
	lb.cmd.Stdout, lb.cmd.Stderr = logFile, logFile
	if err := lb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", lb.port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(lb.log)
			t.Fatalf("haproxy did not answer /readyz: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (lb *balancer) stop() {
	if lb.cmd == nil || lb.cmd.Process == nil {
		return
	}
	_ = lb.cmd.Process.Signal(syscall.SIGTERM)
	_ = lb.cmd.Wait()
	lb.cmd = nil
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
