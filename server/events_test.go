package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/signet-sca/signet/account"
	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/devicekey"
	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/server"
)

// noPoll is a store poll far longer than any wait in these tests: a waiter that learns of a
// change before it could only have been woken by the in-process hub.
const noPoll = time.Hour

// listening returns a channel that receives an operation's id each time a long-poll or event
// stream of h starts listening for its changes, so a test changes the operation only then.
func (h *harness) listening() <-chan string {
	ch := make(chan string, 8)
	server.OnSubscribe(h.srv, func(id string) { ch <- id })
	return ch
}

// approveNow approves op with d and fails the test if it is refused.
func (h *harness) approveNow(opID string, d device) {
	h.t.Helper()
	dl := h.signingData(opID, d)
	if r := h.approve(opID, d, sign(d.key, dl[:])); r.status != 200 {
		h.t.Fatalf("approve: %d %s", r.status, r.body)
	}
}

func TestLongPoll(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{operationPoll: noPoll})
	uid := h.createUser("cust-longpoll")
	d := h.newDevice(uid)
	canceled := h.createOp(uid, "1", "EUR", nil)
	h.do("POST", "/v1/operations/"+canceled.ID+"/cancel", "", nil)

	// Bounds, not timings: an answer "at once" must come well before the wait it was asked
	// for runs out, which is the only other way the request could end.
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			name, path, auth string
			status           int
		}{
			{"no API key", "/v1/operations/" + canceled.ID + "?wait=60s", "-", 401},
			{"wait is not a duration", "/v1/operations/" + canceled.ID + "?wait=soon", "", 400},
			{"negative wait", "/v1/operations/" + canceled.ID + "?wait=-1s", "", 400},
			{"unknown operation", "/v1/operations/3c7a1e52-9b1f-4a07-8d5e-000000000000?wait=60s", "", 404},
		} {
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				if r := h.do("GET", tt.path, tt.auth, nil); r.status != tt.status || time.Since(start) > 30*time.Second {
					t.Fatalf("got %d after %s: %s", r.status, time.Since(start), r.body)
				}
			})
		}
	})
	t.Run("terminal operation answers at once", func(t *testing.T) {
		start := time.Now()
		r := h.do("GET", "/v1/operations/"+canceled.ID+"?wait=60s", "", nil)
		if r.status != 200 || r.json(t)["status"] != "CANCELED" || time.Since(start) > 30*time.Second {
			t.Fatalf("%d after %s: %s", r.status, time.Since(start), r.body)
		}
	})
	t.Run("unchanged operation answers when the wait runs out", func(t *testing.T) {
		// The exact bound (not before the wait runs out, at once when it does) is kept by
		// TestWaitForChange on a clock it controls; here the answer over HTTP.
		op := h.createOp(uid, "2", "EUR", nil)
		r := h.do("GET", "/v1/operations/"+op.ID+"?wait=200ms", "", nil)
		if r.status != 200 || r.json(t)["status"] != "PENDING" {
			t.Fatalf("%d: %s", r.status, r.body)
		}
	})
	t.Run("the approval wakes the waiter (store poll off)", func(t *testing.T) {
		op := h.createOp(uid, "3", "EUR", nil)
		listening := h.listening()
		polled := make(chan response, 1)
		go func() { polled <- h.do("GET", "/v1/operations/"+op.ID+"?wait=20s", "", nil) }()
		for id := range listening {
			if id == op.ID {
				break
			}
		}
		h.approveNow(op.ID, d)
		// Without the hub's wake-up the long-poll sleeps until its wait runs out and answers
		// the state it last read: PENDING.
		r := <-polled
		if r.status != 200 || r.json(t)["status"] != "APPROVED" || r.json(t)["token"] == nil {
			t.Fatalf("%d: %s", r.status, r.body)
		}
	})
}

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	id, event string
	data      map[string]any
}

func readEvent(t *testing.T, rd *bufio.Reader) (sseEvent, bool) {
	t.Helper()
	var ev sseEvent
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return ev, false
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "" && ev.event != "":
			return ev, true
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &ev.data); err != nil {
				t.Fatalf("data %q: %v", line, err)
			}
		}
	}
}

func (h *harness) stream(t *testing.T, opID string) (*http.Response, *bufio.Reader) {
	t.Helper()
	// A stream that is never woken ends here instead of hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+h.addr+"/v1/operations/"+opID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+testSecret)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, bufio.NewReader(resp.Body)
}

func TestOperationEvents(t *testing.T) {
	h := newHarnessWith(t, harnessOpts{operationPoll: noPoll})
	uid := h.createUser("cust-sse")
	d := h.newDevice(uid)
	t.Run("refusals", func(t *testing.T) {
		if r := h.do("GET", "/v1/operations/3c7a1e52-9b1f-4a07-8d5e-000000000000/events", "", nil); r.status != 404 {
			t.Fatalf("unknown operation: %d %s", r.status, r.body)
		}
		op := h.createOp(uid, "1", "EUR", nil)
		if r := h.do("GET", "/v1/operations/"+op.ID+"/events", "-", nil); r.status != 401 {
			t.Fatalf("no API key: %d %s", r.status, r.body)
		}
	})
	t.Run("pending, then approved, then the stream ends", func(t *testing.T) {
		op := h.createOp(uid, "42", "EUR", nil)
		resp, rd := h.stream(t, op.ID)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		first, ok := readEvent(t, rd)
		if !ok || first.event != "operation" || first.id != "PENDING" || first.data["status"] != "PENDING" || first.data["amount"] != "42.00" {
			t.Fatalf("first event %+v", first)
		}
		// The first event is written after the stream subscribed: approve now. With the store
		// poll off, only the hub can bring the second event before the request's deadline.
		h.approveNow(op.ID, d)
		second, ok := readEvent(t, rd)
		if !ok || second.id != "APPROVED" || second.data["status"] != "APPROVED" || second.data["token"] == nil {
			t.Fatalf("second event %+v", second)
		}
		if ev, ok := readEvent(t, rd); ok {
			t.Fatalf("stream continued after a terminal status: %+v", ev)
		}
	})
	t.Run("terminal operation: one event and the end", func(t *testing.T) {
		op := h.createOp(uid, "5", "EUR", nil)
		h.do("POST", "/v1/operations/"+op.ID+"/cancel", "", nil)
		_, rd := h.stream(t, op.ID)
		if ev, ok := readEvent(t, rd); !ok || ev.id != "CANCELED" {
			t.Fatalf("event %+v", ev)
		}
		if _, ok := readEvent(t, rd); ok {
			t.Fatal("stream continued")
		}
	})
}

func TestShutdownReleasesWaiters(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-shutdown")
	op := h.createOp(uid, "1", "EUR", nil)
	_, rd := h.stream(t, op.ID)
	if _, ok := readEvent(t, rd); !ok {
		t.Fatal("no first event")
	}
	listening := h.listening() // after the stream's first event: only the long-poll is reported
	polled := make(chan response, 1)
	go func() { polled <- h.do("GET", "/v1/operations/"+op.ID+"?wait=60s", "", nil) }()
	<-listening
	// Shutdown waits for open requests: if the hub did not release them it would wait for the
	// 60 s long-poll and miss this deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-polled; r.status != 200 || r.json(t)["status"] != "PENDING" {
		t.Fatalf("long-poll during shutdown: %d %s", r.status, r.body)
	}
	if _, ok := readEvent(t, rd); ok {
		t.Fatal("stream still open after shutdown")
	}
}

// withEvidence serves the harness's services again with the evidence builder wired in.
func withEvidence(t *testing.T, h *harness) *harness {
	t.Helper()
	a := audit.New(h.store, nil, nil)
	srv := server.New(server.Deps{
		APIKeys:    []config.APIKey{{Name: "bank", Secret: testSecret, Scope: config.ScopeAdmin}},
		Accounts:   account.New(h.store, a, nil),
		Operations: h.ops,
		Devices:    devicekey.New(h.store, a, nil),
		Evidence:   evidence.NewBuilder(h.store, h.keyring, testIssuer, nil),
	}, server.Options{MaxBodyBytes: 4096})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	e := *h
	e.srv, e.addr = srv, ln.Addr().String()
	return &e
}

func TestEvidenceOverHTTP(t *testing.T) {
	h := withEvidence(t, newHarness(t, nil))
	uid := h.createUser("cust-evidence")
	d := h.newDevice(uid)
	op := h.createOp(uid, "99.9", "EUR", nil)
	pending := h.createOp(uid, "1", "EUR", nil)
	dl := h.signingData(op.ID, d)
	if r := h.approve(op.ID, d, sign(d.key, dl[:])); r.status != 200 {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	for _, tt := range []struct {
		name, path, auth string
		status           int
	}{
		{"no API key", "/v1/operations/" + op.ID + "/evidence", "-", 401},
		{"malformed id", "/v1/operations/nope/evidence", "", 400},
		{"unknown operation", "/v1/operations/3c7a1e52-9b1f-4a07-8d5e-000000000000/evidence", "", 404},
		{"pending operation", "/v1/operations/" + pending.ID + "/evidence", "", 409},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := h.do("GET", tt.path, tt.auth, nil); r.status != tt.status {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	r := h.do("GET", "/v1/operations/"+op.ID+"/evidence", "", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Content-Disposition"), op.ID) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if rep := evidence.Verify(r.body, evidence.VerifyOptions{}); !rep.OK() {
		t.Fatalf("bundle of a real approval does not verify: %+v", rep)
	}
	b, _ := evidence.Parse(r.body)
	if b.Operation.Amount != "99.90" || b.Credential.ID != d.credID || b.Token == nil {
		t.Fatalf("bundle %+v", b.Operation)
	}
	mutated := bytes.Replace(r.body, []byte(`"amount": "99.90"`), []byte(`"amount": "99.99"`), 1)
	if bytes.Equal(mutated, r.body) {
		t.Fatal("amount not found in the bundle")
	}
	if rep := evidence.Verify(mutated, evidence.VerifyOptions{}); rep.OK() {
		t.Fatal("a changed amount still verifies")
	}
}
