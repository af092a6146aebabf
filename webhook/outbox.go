package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/store"
)

// Event is what a receiver gets: one per operation and terminal status.
type Event struct {
	// ID is stable: the same operation and status always give the same id, so a receiver
	// deduplicates deliveries (at least once) by it.
	ID          string    `json:"id"`
	Type        string    `json:"type"` // "operation.approved", "operation.rejected", ...
	OperationID string    `json:"operation_id"`
	Status      string    `json:"status"`
	OccurredAt  time.Time `json:"occurred_at"`
}

// eventNamespace is the UUIDv5 namespace of event ids (RFC 9562 §5.5).
var eventNamespace = uuid.MustParse("5b0f6c1e-8f4a-4c55-9a53-0d3e7b1f2a64")

// EventID is the stable id of the event for an operation reaching status: a name-based UUID
// (version 5) of the operation id and the status, so that enqueuing it twice, from the request
// and from the reconciler or from two replicas, inserts it once.
func EventID(operationID string, status store.OperationStatus) string {
	return uuid.NewSHA1(eventNamespace, []byte(operationID+"\x00"+string(status))).String()
}

// EventFor returns the event of a terminal operation; false while it is PENDING.
func EventFor(op store.Operation) (Event, bool) {
	if !op.Status.Terminal() {
		return Event{}, false
	}
	return Event{ID: EventID(op.ID, op.Status), Type: "operation." + strings.ToLower(string(op.Status)),
		OperationID: op.ID, Status: string(op.Status), OccurredAt: op.UpdatedAt.UTC()}, true
}

// OutboxStore is the part of the store the outbox writes to.
type OutboxStore interface {
	EnqueueOutbox(ctx context.Context, e *store.OutboxEvent) error
	UpdateOutbox(ctx context.Context, id string, fn func(*store.OutboxEvent) error) (store.OutboxEvent, error)
}

// Outbox puts webhook events in the database. It is a txsign.Observer: registered with the
// operation service it enqueues the event of every terminal status as it happens; the
// Reconciler covers a crash between the status change and the enqueue.
type Outbox struct {
	store      OutboxStore
	defaultURL string
	logger     *slog.Logger
	kick       chan struct{}
}

// NewOutbox returns an outbox. defaultURL receives the events of operations without a
// callback_url ("" : such operations send none).
func NewOutbox(s OutboxStore, defaultURL string, logger *slog.Logger) *Outbox {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Outbox{store: s, defaultURL: defaultURL, logger: logger, kick: make(chan struct{}, 1)}
}

// Endpoint is where op's events go: its callback_url, else the default ("" for none). Callback
// URLs were validated when the operation was created (https; http only on loopback).
func (o *Outbox) Endpoint(op store.Operation) string {
	if op.CallbackURL != "" {
		return op.CallbackURL
	}
	return o.defaultURL
}

// OperationChanged implements txsign.Observer. It never fails the request: an enqueue error is
// logged and the reconciler enqueues the event later.
func (o *Outbox) OperationChanged(ctx context.Context, op store.Operation) {
	if !op.Status.Terminal() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := o.Enqueue(ctx, op); err != nil {
		o.logger.WarnContext(ctx, "webhook enqueue failed; the reconciler will retry", "operation_id", op.ID, "err", err)
	}
}

// Enqueue puts op's event in the outbox unless it is there already. It reports whether it
// inserted one (false for a PENDING operation, no endpoint, or an event already enqueued).
func (o *Outbox) Enqueue(ctx context.Context, op store.Operation) (bool, error) {
	ev, ok := EventFor(op)
	endpoint := o.Endpoint(op)
	if !ok || endpoint == "" {
		return false, nil
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return false, err
	}
	rec := &store.OutboxEvent{ID: ev.ID, Endpoint: endpoint, Type: ev.Type, Payload: payload}
	switch err := o.store.EnqueueOutbox(ctx, rec); {
	case errors.Is(err, store.ErrAlreadyExists):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("webhook: enqueue %s: %w", ev.ID, err)
	}
	select { // wake a worker waiting in this process
	case o.kick <- struct{}{}:
	default:
	}
	return true, nil
}

var errProbe = errors.New("webhook: probe only")

// exists reports whether the event id is in the outbox, without writing: the update closure
// aborts before any write.
func (o *Outbox) exists(ctx context.Context, id string) (bool, error) {
	_, err := o.store.UpdateOutbox(ctx, id, func(*store.OutboxEvent) error { return errProbe })
	switch {
	case errors.Is(err, errProbe):
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}

// ensure enqueues op's event when it is missing, reading before writing so that a reconciler
// pass over events already enqueued costs reads only.
func (o *Outbox) ensure(ctx context.Context, op store.Operation) (bool, error) {
	ev, ok := EventFor(op)
	if !ok || o.Endpoint(op) == "" {
		return false, nil
	}
	found, err := o.exists(ctx, ev.ID)
	if err != nil || found {
		return false, err
	}
	return o.Enqueue(ctx, op)
}

// Kicked is signalled when this process enqueued an event (a worker may deliver at once).
func (o *Outbox) Kicked() <-chan struct{} { return o.kick }
