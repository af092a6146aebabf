package webhook

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/signet-sca/signet/store"
)

// ReconcileStore is the part of the store the reconciler reads.
type ReconcileStore interface {
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, string, error)
	GetOperation(ctx context.Context, id string) (store.Operation, error)
}

// DefaultWindow is how far back a fresh reconciler looks: every operation created in it is
// checked. It exceeds the longest operation lifetime (txsign.MaxExpiry, 1 h), so a process that
// restarts within an hour of a crash misses no terminal status.
const DefaultWindow = 2 * time.Hour

// Reconciler enqueues the events the request path failed to enqueue: after a crash between an
// operation's status change and its Outbox.Enqueue, or when the enqueue itself failed.
//
// The store offers no "operations changed since" query, so it follows the audit log, which
// every operation enters when it is created: it tracks each operation it has seen in the log
// until the operation is terminal and its event is in the outbox. A status change whose audit
// record was lost in the same crash is still found, because the operation's creation is in the
// log. State is in memory; a new process starts from DefaultWindow (or the configured window)
// back, so a restart re-checks recent operations. Each event is looked up before it is
// inserted, so passes over events already enqueued only read.
type Reconciler struct {
	store   ReconcileStore
	outbox  *Outbox
	window  time.Duration
	recheck time.Duration
	now     func() time.Time
	logger  *slog.Logger

	mu      sync.Mutex
	started bool
	resume  store.AuditFilter
	lastSeq int64
	open    map[string]*tracked
}

type tracked struct {
	dirty     bool // an audit event arrived since the last check
	lastCheck time.Time
}

// ReconcilerConfig configures a Reconciler; zero values take the defaults in brackets.
type ReconcilerConfig struct {
	Window  time.Duration // how far back to start [DefaultWindow]
	Recheck time.Duration // how often a still-PENDING operation is read again [1m]
	Now     func() time.Time
	Logger  *slog.Logger
}

// NewReconciler returns a reconciler that enqueues through o.
func NewReconciler(s ReconcileStore, o *Outbox, cfg ReconcilerConfig) *Reconciler {
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{store: s, outbox: o, window: cfg.Window, recheck: cfg.Recheck, now: cfg.Now,
		logger: cfg.Logger, open: map[string]*tracked{}}
}

const auditPage = 1000

// Pass reads the audit log from where the last pass stopped, then checks the operations it
// tracks; it returns how many events it enqueued. A pass cut short by ctx keeps its progress.
func (r *Reconciler) Pass(ctx context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if !r.started {
		r.resume = store.AuditFilter{Since: now.Add(-r.window), Limit: auditPage}
		r.started = true
	}
	for {
		evs, next, err := r.store.ListAudit(ctx, r.resume)
		if err != nil {
			return 0, err
		}
		for _, e := range evs {
			if e.Seq <= r.lastSeq { // the last page is read again until it fills
				continue
			}
			r.lastSeq = e.Seq
			if e.OperationID == "" {
				continue
			}
			t := r.open[e.OperationID]
			if t == nil {
				t = &tracked{}
				r.open[e.OperationID] = t
			}
			t.dirty = true
		}
		if next == "" {
			break
		}
		r.resume = store.AuditFilter{Cursor: next, Limit: auditPage}
	}
	n := 0
	for id, t := range r.open {
		if !t.dirty && now.Sub(t.lastCheck) < r.recheck {
			continue
		}
		op, err := r.store.GetOperation(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			delete(r.open, id)
			continue
		}
		if err != nil {
			return n, err
		}
		t.dirty, t.lastCheck = false, now
		if !op.Status.Terminal() {
			if now.Sub(op.CreatedAt) > r.window { // cannot happen with txsign.MaxExpiry; bound memory anyway
				delete(r.open, id)
			}
			continue
		}
		inserted, err := r.outbox.ensure(ctx, op)
		if err != nil {
			return n, err
		}
		if inserted {
			n++
			r.logger.InfoContext(ctx, "webhook event recovered by the reconciler", "operation_id", op.ID, "status", op.Status)
		}
		delete(r.open, id)
	}
	return n, nil
}

// Tracked returns how many operations the reconciler is following (tests, metrics).
func (r *Reconciler) Tracked() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open)
}
