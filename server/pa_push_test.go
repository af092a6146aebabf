package server_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"

	padevice "github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/notify"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// pushRecorder is a push provider that keeps what it is asked to send.
type pushRecorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (p *pushRecorder) Notify(_ context.Context, m notify.Message) error {
	p.mu.Lock()
	p.msgs = append(p.msgs, m)
	p.mu.Unlock()
	return nil
}

// forOperation returns the pushes of one operation (after the observer finished sending), as
// "platform:token" sorted, and the messages.
func (e *paEnv) pushesFor(opID string) ([]string, []notify.Message) {
	e.t.Helper()
	if err := e.obs.Close(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.pushes.mu.Lock()
	defer e.pushes.mu.Unlock()
	var to []string
	var msgs []notify.Message
	for _, m := range e.pushes.msgs {
		if m.Message.Data["operation_id"] == opID {
			to = append(to, m.Message.Data["platform"]+":"+m.Message.Token)
			msgs = append(msgs, m)
		}
	}
	sort.Strings(to)
	return to, msgs
}

// testPushRegistration: the mobile-token SDK's push registration stores the platform token per activation;
// a new operation is pushed to every registered ACTIVE phone of the user, in the shape the SDKs' PushParser
// reads; a phone's removal drops its token.
func testPushRegistration(t *testing.T, e *paEnv) {
	ctx := context.Background()
	phone, phoneSt, userID := e.activeDevice(nextUser(), powerauth.Version33)
	tablet, tabletSt := e.secondDevice(userID)

	for _, tt := range []struct{ name, platform, token string }{
		{"unknown platform", "windows", "abc"},
		{"empty token", "android", ""},
		{"token with a space", "android", "abc def"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := phone.RegisterPushToken(ctx, phoneSt, tt.platform, tt.token); !padevice.IsCode(err, "INVALID_REQUEST") {
				t.Fatalf("got %v", err)
			}
		})
	}
	if err := phone.RegisterPushToken(ctx, phoneSt, "android", "fcm-old"); err != nil {
		t.Fatal(err)
	}
	if err := phone.RegisterPushToken(ctx, phoneSt, "android", "fcm-new"); err != nil { // a refreshed FCM token
		t.Fatal(err)
	}
	if err := tablet.RegisterPushToken(ctx, tabletSt, "ios", "apns-1"); err != nil {
		t.Fatal(err)
	}

	op := e.operation(userID, "5.00")
	to, msgs := e.pushesFor(op)
	if len(to) != 2 || to[0] != "apns:apns-1" || to[1] != "fcm:fcm-new" {
		t.Fatalf("pushed to %v, want both phones' current tokens", to)
	}
	d := msgs[0].Message.Data
	if d["messageType"] != "mtoken.operationInit" || d["operationId"] != op || d["operationName"] != "payment" {
		t.Fatalf("push data %v is not what the SDKs' PushParser reads", d)
	}

	if err := phone.Remove(ctx, phoneSt, paPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GetPushToken(ctx, phoneSt.ActivationID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the removed activation's token: %v", err)
	}
	op2 := e.operation(userID, "6.00")
	if to, _ := e.pushesFor(op2); len(to) != 1 || to[0] != "apns:apns-1" {
		t.Fatalf("after the phone's removal pushed to %v", to)
	}
}
