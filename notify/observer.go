package notify

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// Store is the part of the store the observer reads.
type Store interface {
	GetUser(ctx context.Context, id string) (store.User, error)
	ListCredentials(ctx context.Context, f store.CredentialFilter) ([]store.Credential, error)
	ListPushTokens(ctx context.Context, userID string) ([]store.PushToken, error)
}

// Observer is a txsign.Observer that pushes a notification when an operation is created for a
// user with an ACTIVE mobile credential (device key or PowerAuth activation) the operation
// accepts. It sends in the background, never slowing or failing the request; a full queue drops
// the push (the user can still open the app) and counts it.
type Observer struct {
	store    Store
	notifier Notifier
	logger   *slog.Logger
	timeout  time.Duration
	sem      chan struct{}
	wg       sync.WaitGroup
	sent     *prometheus.CounterVec
	cap      func(operationID string) string
}

// ObserverConfig configures an Observer; zero values take the defaults in brackets.
type ObserverConfig struct {
	Concurrency int           // pushes in flight [16]
	Timeout     time.Duration // per push [10s]
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Capability returns an operation's capability (txsign.Service.Capability):
	// the app needs it, with the id, to read the signing data and to sign.
	// nil: pushes carry none.
	Capability func(operationID string) string
}

// NewObserver returns an observer sending through n.
func NewObserver(s Store, n Notifier, cfg ObserverConfig) *Observer {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	o := &Observer{store: s, notifier: n, logger: cfg.Logger, timeout: cfg.Timeout, sem: make(chan struct{}, cfg.Concurrency), cap: cfg.Capability,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "signet_push_notifications_total",
			Help: "Push notifications for new operations, by outcome (sent, failed, dropped, no_mobile_credential)."}, []string{"outcome"})}
	if cfg.Registerer != nil {
		_ = cfg.Registerer.Register(o.sent)
	}
	return o
}

// enabler is a Notifier that can tell it would drop every message (the log
// provider above its level).
type enabler interface{ Enabled(context.Context) bool }

// OperationChanged implements txsign.Observer: it acts on creation (PENDING) only.
func (o *Observer) OperationChanged(ctx context.Context, op store.Operation) {
	if op.Status != store.OpPending {
		return
	}
	if e, ok := o.notifier.(enabler); ok && !e.Enabled(ctx) {
		return // two reads per operation for a message nobody would see
	}
	select {
	case o.sem <- struct{}{}:
	default:
		o.sent.WithLabelValues("dropped").Inc()
		o.logger.WarnContext(ctx, "push notification dropped: too many in flight", "operation_id", op.ID)
		return
	}
	o.wg.Add(1)
	ctx = context.WithoutCancel(ctx) // the request ends before the push does; keep its logger values
	go func() {
		defer o.wg.Done()
		defer func() { <-o.sem }()
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		o.push(ctx, op)
	}()
}

func (o *Observer) push(ctx context.Context, op store.Operation) {
	creds, err := o.store.ListCredentials(ctx, store.CredentialFilter{UserID: op.UserID, Status: store.StatusActive})
	if err != nil {
		o.sent.WithLabelValues("failed").Inc()
		o.logger.WarnContext(ctx, "push notification: listing credentials failed", "operation_id", op.ID, "err", err)
		return
	}
	mobile := false
	eligible := map[string]bool{} // credentials that may approve op
	for _, c := range creds {
		if (c.Kind == store.KindDeviceKey || c.Kind == store.KindPowerAuth) && txsign.FactorAllowed(op, c.Kind) {
			mobile = true
			eligible[c.ID] = true
		}
	}
	if !mobile {
		o.sent.WithLabelValues("no_mobile_credential").Inc()
		return
	}
	u, err := o.store.GetUser(ctx, op.UserID)
	if err != nil {
		o.sent.WithLabelValues("failed").Inc()
		o.logger.WarnContext(ctx, "push notification: reading the user failed", "operation_id", op.ID, "err", err)
		return
	}
	capability := ""
	if o.cap != nil {
		capability = o.cap(op.ID)
	}
	tokens, err := o.store.ListPushTokens(ctx, op.UserID) // those of ACTIVE credentials only
	if err != nil {
		o.sent.WithLabelValues("failed").Inc()
		o.logger.WarnContext(ctx, "push notification: listing push tokens failed", "operation_id", op.ID, "err", err)
		return
	}
	m := MessageFor(op, u, capability)
	var out []Message
	for _, t := range tokens {
		if eligible[t.CredentialID] {
			out = append(out, m.To(t))
		}
	}
	if len(out) == 0 {
		out = append(out, m) // no registered phone: the relay resolves Data["user"]
	}
	for _, msg := range out {
		if err := o.notifier.Notify(ctx, msg); err != nil {
			o.sent.WithLabelValues("failed").Inc()
			o.logger.WarnContext(ctx, "push notification failed", "operation_id", op.ID, "err", err)
			continue
		}
		o.sent.WithLabelValues("sent").Inc()
	}
}

// To addresses m to one registered phone: its platform token (FCM, APNs or HMS, from
// /api/push/device/register/token), with the platform and APNs environment in Data for the relay.
func (m Message) To(t store.PushToken) Message {
	data := make(map[string]string, len(m.Message.Data)+2)
	for k, v := range m.Message.Data {
		data[k] = v
	}
	data["platform"] = t.Platform
	if t.Environment != "" {
		data["environment"] = t.Environment
	}
	m.Message.Data, m.Message.Token = data, t.Token
	return m
}

// MessageFor is the push message for a new operation of user u. capability
// (when not empty) is the operation's capability: with the id it lets the app
// read the signing data; alone it shows nothing, since signing-data also
// needs an ACTIVE credential of the user, which the push does not name.
func MessageFor(op store.Operation, u store.User, capability string) Message {
	title := "Approval request"
	switch op.Type {
	case "payment":
		title = "Payment to approve"
	case "login":
		title = "Sign-in to approve"
	}
	// messageType, operationId and operationName are what the mobile-token SDKs' PushParser reads
	// (WMTPushParser, PushParser.parseNotification: "mtoken.operationInit").
	data := map[string]string{"operation_id": op.ID, "type": op.Type, "user": u.ExternalID,
		"messageType": "mtoken.operationInit", "operationId": op.ID, "operationName": op.Type}
	if capability != "" {
		data["capability"] = capability
	}
	return Message{Message: Payload{
		Data:         data,
		Notification: &Notification{Title: title, Body: "Open the app to review the details and approve or reject."},
	}}
}

// Close waits for pushes in flight until ctx ends.
func (o *Observer) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// InboxMessagePosted implements inbox.Observer: a new inbox message is pushed, in the background, to every
// registered phone of its user (ACTIVE activations only) as the mobile-token SDKs' PushParser expects it
// ("mtoken.inboxMessage.new" with inboxId). Neither subject nor text leaves through the push provider; a user
// with no registered phone gets no push (the app shows the unread count when opened).
func (o *Observer) InboxMessagePosted(ctx context.Context, m store.InboxMessage) {
	if e, ok := o.notifier.(enabler); ok && !e.Enabled(ctx) {
		return
	}
	select {
	case o.sem <- struct{}{}:
	default:
		o.sent.WithLabelValues("dropped").Inc()
		o.logger.WarnContext(ctx, "inbox push dropped: too many in flight", "inbox_id", m.ID)
		return
	}
	o.wg.Add(1)
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer o.wg.Done()
		defer func() { <-o.sem }()
		ctx, cancel := context.WithTimeout(ctx, o.timeout)
		defer cancel()
		tokens, err := o.store.ListPushTokens(ctx, m.UserID)
		if err != nil {
			o.sent.WithLabelValues("failed").Inc()
			o.logger.WarnContext(ctx, "inbox push: listing push tokens failed", "inbox_id", m.ID, "err", err)
			return
		}
		msg := Message{Message: Payload{
			Data:         map[string]string{"messageType": "mtoken.inboxMessage.new", "inboxId": m.ID},
			Notification: &Notification{Title: "New message", Body: "Open the app to read it."},
		}}
		for _, t := range tokens {
			if err := o.notifier.Notify(ctx, msg.To(t)); err != nil {
				o.sent.WithLabelValues("failed").Inc()
				o.logger.WarnContext(ctx, "inbox push failed", "inbox_id", m.ID, "err", err)
				continue
			}
			o.sent.WithLabelValues("sent").Inc()
		}
	}()
}
