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

// approveAsync approves op with d after delay and reports when the approval answered.
func (h *harness) approveAsync(opID string, d device, delay time.Duration) <-chan time.Time {
	done := make(chan time.Time, 1)
	go func() {
		time.Sleep(delay)
		dl := h.signingData(opID, d)
		if r := h.approve(opID, d, sign(d.key, dl[:])); r.status != 200 {
			h.t.Errorf("approve: %d %s", r.status, r.body)
		}
		done <- time.Now()
	}()
	return done
}

func TestLongPoll(t *testing.T) {
	h := newHarness(t, nil)
	uid := h.createUser("cust-longpoll")
	d := h.newDevice(uid)
	canceled := h.createOp(uid, "1", "EUR", nil)
	h.do("POST", "/v1/operations/"+canceled.ID+"/cancel", "", nil)

	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			name, path, auth string
			status           int
		}{
			{"no API key", "/v1/operations/" + canceled.ID + "?wait=1s", "-", 401},
			{"wait is not a duration", "/v1/operations/" + canceled.ID + "?wait=soon", "", 400},
			{"negative wait", "/v1/operations/" + canceled.ID + "?wait=-1s", "", 400},
			{"unknown operation", "/v1/operations/3c7a1e52-9b1f-4a07-8d5e-000000000000?wait=30s", "", 404},
		} {
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				if r := h.do("GET", tt.path, tt.auth, nil); r.status != tt.status || time.Since(start) > time.Second {
					t.Fatalf("got %d after %s: %s", r.status, time.Since(start), r.body)
				}
			})
		}
	})
	t.Run("terminal operation answers at once", func(t *testing.T) {
		start := time.Now()
		r := h.do("GET", "/v1/operations/"+canceled.ID+"?wait=30s", "", nil)
		if r.status != 200 || r.json(t)["status"] != "CANCELED" || time.Since(start) > time.Second {
			t.Fatalf("%d after %s: %s", r.status, time.Since(start), r.body)
		}
	})
	t.Run("unchanged operation answers when the wait runs out", func(t *testing.T) {
		op := h.createOp(uid, "2", "EUR", nil)
		start := time.Now()
		r := h.do("GET", "/v1/operations/"+op.ID+"?wait=1500ms", "", nil)
		if el := time.Since(start); r.status != 200 || r.json(t)["status"] != "PENDING" || el < 1400*time.Millisecond || el > 3*time.Second {
			t.Fatalf("%d after %s: %s", r.status, el, r.body)
		}
	})
	t.Run("returns within 1 s of the approval", func(t *testing.T) {
		op := h.createOp(uid, "3", "EUR", nil)
		approved := h.approveAsync(op.ID, d, 700*time.Millisecond)
		start := time.Now()
		r := h.do("GET", "/v1/operations/"+op.ID+"?wait=30s", "", nil)
		returned := time.Now()
		at := <-approved
		if r.status != 200 || r.json(t)["status"] != "APPROVED" || r.json(t)["token"] == nil {
			t.Fatalf("%d: %s", r.status, r.body)
		}
		if lag := returned.Sub(at); lag > time.Second || returned.Sub(start) > 10*time.Second {
			t.Fatalf("long-poll returned %s after the approval answered", lag)
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
	req, _ := http.NewRequest("GET", "http://"+h.addr+"/v1/operations/"+opID+"/events", nil)
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
	h := newHarness(t, nil)
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
		approved := h.approveAsync(op.ID, d, 200*time.Millisecond)
		second, ok := readEvent(t, rd)
		got := time.Now()
		at := <-approved
		if !ok || second.id != "APPROVED" || second.data["status"] != "APPROVED" || second.data["token"] == nil {
			t.Fatalf("second event %+v", second)
		}
		if got.Sub(at) > time.Second {
			t.Fatalf("event arrived %s after the approval", got.Sub(at))
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
	polled := make(chan response, 1)
	go func() { polled <- h.do("GET", "/v1/operations/"+op.ID+"?wait=60s", "", nil) }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
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
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("shutdown took %s with a long-poll and a stream open", el)
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
