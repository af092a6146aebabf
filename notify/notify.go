package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/signet-sca/signet/webhook"
)

// Message is the FCM HTTP v1 send request shape ({"message": {...}}), so that a relay can pass
// it to Firebase Cloud Messaging (or map it to APNs) unchanged apart from the device token.
type Message struct {
	Message Payload `json:"message"`
}

// Payload is FCM's Message object, reduced to what Signet fills in.
type Payload struct {
	// Token is the phone's platform token registered through /api/push/device/register/token
	// (Data["platform"] says fcm, apns or hms). A user with no registered phone gets one message
	// with no token, and Data["user"] names the user (the bank's external id) for the relay to resolve.
	Token        string            `json:"token,omitempty"`
	Data         map[string]string `json:"data"`
	Notification *Notification     `json:"notification,omitempty"`
}

// Notification is what the phone shows. It carries no amount or payee: push messages travel
// through third parties (Google, Apple); the app fetches the details from Signet and shows them
// before the user signs.
type Notification struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Notifier sends a push message.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Webhook is a push provider that POSTs the message as JSON to a relay URL, signed with the
// Signet-Signature header when a secret is set (the same scheme as webhooks).
type Webhook struct {
	url    string
	secret webhook.Secret
	client *http.Client
	now    func() time.Time
}

// NewWebhook returns a provider posting to url. client nil: a client with a 10 s timeout that
// follows no redirects.
func NewWebhook(url string, secret webhook.Secret, client *http.Client) *Webhook {
	if client == nil {
		client = webhook.NewClient(10 * time.Second)
	}
	return &Webhook{url: url, secret: secret, client: client, now: time.Now}
}

// Notify implements Notifier: any answer but 2xx is an error.
func (w *Webhook) Notify(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Signet-Push/1")
	if len(w.secret) > 0 {
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(w.secret, w.now(), body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("notify: push relay: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("notify: push relay answered HTTP %d", resp.StatusCode)
	}
	return nil
}

// Log is the embedded-mode provider: it logs that a push would be sent (operation id, type and
// user; nothing secret) so a developer sees the cross-device flow without a push service.
type Log struct{ logger *slog.Logger }

// NewLog returns a Log provider.
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{logger: logger}
}

// Enabled reports whether the log would show a push: the observer skips the
// credential and user lookups for a push nobody sees (logs above info).
func (l *Log) Enabled(ctx context.Context) bool { return l.logger.Enabled(ctx, slog.LevelInfo) }

// Notify implements Notifier.
func (l *Log) Notify(ctx context.Context, m Message) error {
	l.logger.InfoContext(ctx, "push notification (log provider)", "operation_id", m.Message.Data["operation_id"],
		"type", m.Message.Data["type"], "user", m.Message.Data["user"])
	return nil
}
