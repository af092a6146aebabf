package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/notify"
	"github.com/signet-sca/signet/powerauth"
)

// testInbox: the bank posts messages to a user through the private API; the user's app reads them as the
// mobile-token SDKs' InboxService does (count, pages newest first, detail, read, read all) with its MAC token;
// another user's app sees none of them.
func testInbox(t *testing.T, e *paEnv) {
	ctx := context.Background()
	c, st, userID := e.activeDevice(nextUser(), powerauth.Version33)
	stranger, strangerSt, strangerID := e.activeDevice(nextUser(), powerauth.Version32)

	t.Run("bank input is checked", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"no subject", map[string]any{"summary": "s", "body": "b"}, "subject"},
			{"unknown type", map[string]any{"subject": "s", "type": "markdown"}, "type"},
			{"long subject", map[string]any{"subject": strings.Repeat("x", 256)}, "subject"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				status, p := e.bank("POST", "/v1/users/"+userID+"/inbox", tt.body)
				if status != 400 || !strings.Contains(fmt.Sprint(p), tt.field) {
					t.Fatalf("%d %v", status, p)
				}
			})
		}
		if status, p := e.bank("POST", "/v1/users/00000000-0000-4000-8000-000000000000/inbox", map[string]any{"subject": "s"}); status != 404 {
			t.Fatalf("unknown user: %d %v", status, p)
		}
	})

	if err := c.RegisterPushToken(ctx, st, "ios", "apns-inbox"); err != nil {
		t.Fatal(err)
	}
	var ids []string // oldest first
	for i, subject := range []string{"Statement for November", "New card on its way", "Your <b>offer</b>"} {
		typ := "text"
		if i == 2 {
			typ = "html"
		}
		status, m := e.bank("POST", "/v1/users/"+userID+"/inbox", map[string]any{"subject": subject, "summary": "summary " + subject,
			"body": "body " + subject, "type": typ})
		if status != 201 || m["read"] != false || m["type"] != typ {
			t.Fatalf("post: %d %v", status, m)
		}
		ids = append(ids, m["id"].(string))
		e.clock.Advance(time.Second)
	}
	if status, m := e.bank("POST", "/v1/users/"+strangerID+"/inbox", map[string]any{"subject": "for the stranger"}); status != 201 {
		t.Fatalf("post: %d %v", status, m)
	}

	// Each new message is pushed to the user's registered phone as the SDKs' PushParser reads it, without its text.
	for _, id := range ids {
		if to := e.inboxPushes(id); len(to) != 1 || to[0].Message.Token != "apns-inbox" ||
			to[0].Message.Data["messageType"] != "mtoken.inboxMessage.new" || strings.Contains(fmt.Sprint(to[0]), "Statement") {
			t.Fatalf("pushes of message %s: %+v", id, to)
		}
	}
	if n, err := c.InboxCount(ctx, st); err != nil || n != 3 {
		t.Fatalf("count %d %v, want 3", n, err)
	}
	page, err := c.InboxList(ctx, st, 0, 2, false)
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] || page[0].Type != "html" || page[0].Body != "" {
		t.Fatalf("first page %+v %v", page, err)
	}
	if _, err := padevice.ServerTime(page[0].TimestampCreated); err != nil { // what iOS's .iso8601 decodes
		t.Fatalf("timestampCreated %q: %v", page[0].TimestampCreated, err)
	}
	if page, err := c.InboxList(ctx, st, 1, 2, false); err != nil || len(page) != 1 || page[0].ID != ids[0] {
		t.Fatalf("second page %+v %v", page, err)
	}
	if _, err := c.InboxList(ctx, st, 0, 101, false); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("page size 101: %v", err)
	}

	d, err := c.InboxDetail(ctx, st, ids[1])
	if err != nil || d.Body != "body New card on its way" || d.Read {
		t.Fatalf("detail %+v %v", d, err)
	}
	if _, err := stranger.InboxDetail(ctx, strangerSt, ids[1]); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("another user's detail: %v", err)
	}
	if err := stranger.InboxRead(ctx, strangerSt, ids[1]); !padevice.IsCode(err, "INVALID_REQUEST") {
		t.Fatalf("another user's read: %v", err)
	}
	if err := c.InboxRead(ctx, st, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.InboxRead(ctx, st, ids[1]); err != nil { // reading twice is fine
		t.Fatal(err)
	}
	if n, _ := c.InboxCount(ctx, st); n != 2 {
		t.Fatalf("count after one read %d, want 2", n)
	}
	unread, err := c.InboxList(ctx, st, 0, 10, true)
	if err != nil || len(unread) != 2 || unread[0].ID != ids[2] || unread[1].ID != ids[0] {
		t.Fatalf("unread %+v %v", unread, err)
	}
	if status, l := e.bank("GET", "/v1/users/"+userID+"/inbox?only_unread=true", nil); status != 200 || len(l["messages"].([]any)) != 2 {
		t.Fatalf("bank list: %d %v", status, l)
	}
	// The bank's malformed query is refused with the field named, never read as a default.
	for q, field := range map[string]string{"page=abc": "page", "size=-1": "size", "only_unread=yes": "only_unread", "page=99999999": "page"} {
		if status, p := e.bank("GET", "/v1/users/"+userID+"/inbox?"+q, nil); status != 400 || !strings.Contains(fmt.Sprint(p), field) {
			t.Errorf("bank list ?%s: %d %v", q, status, p)
		}
	}
	if err := c.InboxReadAll(ctx, st); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.InboxCount(ctx, st); n != 0 {
		t.Fatalf("count after read all %d", n)
	}
	if n, _ := stranger.InboxCount(ctx, strangerSt); n != 1 {
		t.Fatalf("the stranger's count %d, want 1 (read all is per user)", n)
	}
}

// inboxPushes returns the pushes of one inbox message, after the observer finished sending.
func (e *paEnv) inboxPushes(id string) []notify.Message {
	e.t.Helper()
	if err := e.obs.Close(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.pushes.mu.Lock()
	defer e.pushes.mu.Unlock()
	var out []notify.Message
	for _, m := range e.pushes.msgs {
		if m.Message.Data["inboxId"] == id {
			out = append(out, m)
		}
	}
	return out
}
