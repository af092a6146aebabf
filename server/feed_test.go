package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/signet-sca/signet/server"
)

// bus is an in-process stand-in for Redis pub/sub between harnesses: what one member
// publishes reaches every other member's Run, unless the bus is told to lose it.
type bus struct {
	mu      sync.Mutex
	members []*member
	lose    bool // notices published now are lost, as pub/sub loses them while a subscriber is away
}

type member struct {
	bus     *bus
	changed func(id string)
	resync  func()
	running chan struct{}
}

func (b *bus) member() *member {
	m := &member{bus: b, running: make(chan struct{})}
	b.mu.Lock()
	b.members = append(b.members, m)
	b.mu.Unlock()
	return m
}

func (m *member) Publish(_ context.Context, id string) error {
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	if m.bus.lose {
		return nil
	}
	for _, o := range m.bus.members {
		if o != m && o.changed != nil {
			o.changed(id)
		}
	}
	return nil
}

func (m *member) Run(ctx context.Context, changed func(string), resync func()) error {
	m.bus.mu.Lock()
	m.changed, m.resync = changed, resync
	m.bus.mu.Unlock()
	close(m.running)
	<-ctx.Done()
	m.bus.mu.Lock()
	m.changed, m.resync = nil, nil
	m.bus.mu.Unlock()
	return nil
}

// replicas returns two harnesses on one database, joined by a bus, with the store poll off:
// a waiter on one learns of a change on the other only through the feed.
func replicas(t *testing.T) (a, b *harness, feeds *bus) {
	db := filepath.Join(t.TempDir(), "shared.db")
	feeds = &bus{}
	ma, mb := feeds.member(), feeds.member()
	a = newHarnessWith(t, harnessOpts{databaseURL: db, feed: ma, operationPoll: noPoll})
	b = newHarnessWith(t, harnessOpts{databaseURL: db, feed: mb, operationPoll: noPoll})
	for _, m := range []*member{ma, mb} {
		select {
		case <-m.running:
		case <-time.After(10 * time.Second):
			t.Fatal("the server never subscribed to its feed")
		}
	}
	return a, b, feeds
}

// TestReplicasWakeEachOther: a long-poll and an event stream waiting on replica B wake when
// replica A approves, with no store poll (ARCHITECTURE: stateless replicas; issue: waiters on
// B within 100 ms of an approval on A, without per-waiter reads).
func TestReplicasWakeEachOther(t *testing.T) {
	a, b, _ := replicas(t)
	uid := a.createUser("cust-replicas")
	d := a.newDevice(uid)

	t.Run("long-poll", func(t *testing.T) {
		op := a.createOp(uid, "4.00", "EUR", nil)
		listening := b.listening()
		polled := make(chan response, 1)
		go func() { polled <- b.do("GET", "/v1/operations/"+op.ID+"?wait=20s", "", nil) }()
		for id := range listening {
			if id == op.ID {
				break
			}
		}
		start := time.Now()
		a.approveNow(op.ID, d)
		r := <-polled
		// Without the feed B sleeps out its wait and answers what it last read: PENDING.
		if r.status != 200 || r.json(t)["status"] != "APPROVED" || r.json(t)["token"] == nil {
			t.Fatalf("%d: %s", r.status, r.body)
		}
		t.Logf("replica B answered %s after replica A's approval returned", time.Since(start))
	})
	t.Run("event stream", func(t *testing.T) {
		op := a.createOp(uid, "5.00", "EUR", nil)
		listening := b.listening()
		resp, rd := b.stream(t, op.ID)
		if resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		if ev, ok := readEvent(t, rd); !ok || ev.id != "PENDING" {
			t.Fatalf("first event %+v", ev)
		}
		for id := range listening {
			if id == op.ID {
				break
			}
		}
		a.approveNow(op.ID, d)
		if ev, ok := readEvent(t, rd); !ok || ev.id != "APPROVED" {
			t.Fatalf("after the approval on A: %+v (stream ended: %v)", ev, !ok)
		}
	})
}

// TestFeedResyncRereadsEveryWaiter: notices lost while a replica's subscription was down are
// made good when it subscribes again: every waiter reads its operation once more.
func TestFeedResyncRereadsEveryWaiter(t *testing.T) {
	a, b, feeds := replicas(t)
	uid := a.createUser("cust-resync")
	d := a.newDevice(uid)
	op := a.createOp(uid, "6.00", "EUR", nil)
	listening := b.listening()
	polled := make(chan response, 1)
	go func() { polled <- b.do("GET", "/v1/operations/"+op.ID+"?wait=20s", "", nil) }()
	for id := range listening {
		if id == op.ID {
			break
		}
	}
	feeds.mu.Lock()
	feeds.lose = true
	feeds.mu.Unlock()
	a.approveNow(op.ID, d)
	select {
	case r := <-polled:
		t.Fatalf("woken by a lost notice: %d %s", r.status, r.body)
	case <-time.After(200 * time.Millisecond): // the notice is lost; nothing can wake B but a resync
	}
	feeds.mu.Lock()
	resync := feeds.members[1].resync
	feeds.mu.Unlock()
	resync()
	if r := <-polled; r.status != 200 || r.json(t)["status"] != "APPROVED" {
		t.Fatalf("after the resync: %d %s", r.status, r.body)
	}
}

// TestDrainTakesTheReplicaOutOfRotation: a draining replica (SIGTERM with
// SIGNET_SHUTDOWN_DRAIN) still serves every request in full, while /readyz answers 503 on
// both listeners and each response closes its connection, so the load balancer and keep-alive
// clients move to another replica before this one stops accepting.
func TestDrainTakesTheReplicaOutOfRotation(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do("GET", "/readyz", "-", nil); r.status != 200 || r.header.Get("Connection") == "close" {
		t.Fatalf("before draining: %d %q %s", r.status, r.header.Get("Connection"), r.body)
	}
	h.srv.Drain()
	if r := h.do("GET", "/readyz", "-", nil); r.status != 503 || r.json(t)["status"] != "draining" {
		t.Fatalf("public /readyz while draining: %d %s", r.status, r.body)
	}
	resp, err := h.srv.Admin().Test(httptest.NewRequest("GET", "/readyz", nil), -1)
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("admin /readyz while draining: %v %v", resp, err)
	}
	resp.Body.Close()
	uid := h.createUser("cust-draining") // still served in full
	req := buildRequest("GET", "http://"+h.addr+"/v1/users/"+uid, "", testSecret, nil)
	req.RequestURI = ""
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// net/http reads "Connection: close" into Response.Close.
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("request while draining: %d, connection kept open", resp.StatusCode)
	}
}

// TestEventStreamSeesAChangeMadeBeforeItListened: an event stream reads its operation, then
// starts listening; a change that lands between the two (its notice delivered before this
// stream listened, here lost on the bus to make the window certain) is seen by reading again
// once listening, not by the 30 s safety poll. The replica run (make cluster) saw an event
// stream wake 30 s late before this.
func TestEventStreamSeesAChangeMadeBeforeItListened(t *testing.T) {
	a, b, feeds := replicas(t)
	uid := a.createUser("cust-before-listening")
	d := a.newDevice(uid)
	op := a.createOp(uid, "7.00", "EUR", nil)
	dl := a.signingData(op.ID, d)
	sig := sign(d.key, dl[:])
	approved := make(chan int, 1)
	server.OnSubscribe(b.srv, func(id string) {
		if id != op.ID {
			return
		}
		feeds.mu.Lock()
		feeds.lose = true
		feeds.mu.Unlock()
		approved <- a.approve(op.ID, d, sig).status
	})
	resp, rd := b.stream(t, op.ID)
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	if st := <-approved; st != 200 {
		t.Fatalf("approve on A: %d", st)
	}
	seen := make(chan string, 1)
	go func() {
		for {
			ev, ok := readEvent(t, rd)
			if !ok || ev.id != "PENDING" {
				seen <- ev.id
				return
			}
		}
	}()
	select {
	case id := <-seen:
		if id != "APPROVED" {
			t.Fatalf("stream ended with %q", id)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the stream did not see the approval made before it listened (it would wait for the safety poll)")
	}
}
