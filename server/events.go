package server

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// Cross-device approval: the internet-banking session waits while the phone approves. It learns
// the outcome by long-poll (GET /v1/operations/{id}?wait=30s) or Server-Sent Events (GET
// /v1/operations/{id}/events). A status change in this process wakes waiters at once (the hub is
// a txsign.Observer). A change made by another replica arrives through Deps.Feed (Redis
// pub/sub in production), which wakes the same waiters; without a feed it is seen by polling
// the store every Options.OperationPoll (default defaultPollEvery), with one only by a slow
// safety poll (feedSafetyPoll).
const (
	maxLongPoll      = 60 * time.Second
	defaultPollEvery = time.Second
	feedSafetyPoll   = 30 * time.Second
	feedQueue        = 4096 // notices waiting to be published; past it they are dropped (the safety poll covers them)
	feedTimeout      = 2 * time.Second
	sseHeartbeat     = 15 * time.Second
	sseMaxDuration   = time.Hour + 5*time.Minute // the longest operation lifetime, plus the sweeper's lag
	sseWriteWithin   = 30 * time.Second          // a client that does not read for this long is dropped
)

// Feed carries operation changes between replicas (package opfeed is the Redis one).
type Feed interface {
	// Publish tells the other replicas that operation id changed.
	Publish(ctx context.Context, id string) error
	// Run calls changed with each id another replica publishes, and resync when notices may
	// have been missed (each time the subscription is established), until ctx ends.
	Run(ctx context.Context, changed func(id string), resync func()) error
}

// hub wakes requests waiting on an operation: on changes made in this process (it is the
// operations service's observer) and, with a feed, on changes other replicas publish.
type hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	closed  chan struct{}
	once    sync.Once
	// publish queues this process's changes for the feed (nil without one). Publishing runs on
	// a goroutine of its own so an approval never waits on Redis.
	publish  chan string
	drain    chan struct{} // closed at shutdown: publish what is queued, then stop
	stopFeed func(ctx context.Context)
	feedOnce sync.Once
	// subscribed, when set (tests only, under mu), is called with the operation id after each
	// subscription is registered, so a test can change the operation once a waiter listens.
	subscribed func(id string)
	dropped    func() // counts a notice the full queue refused
}

func newHub() *hub {
	return &hub{waiters: map[string]map[chan struct{}]struct{}{}, closed: make(chan struct{})}
}

// OperationChanged implements txsign.Observer: it wakes this process's waiters and queues the
// change for the other replicas.
func (h *hub) OperationChanged(_ context.Context, op store.Operation) {
	h.wake(op.ID)
	if h.publish != nil {
		select {
		case h.publish <- op.ID:
		default: // the queue is full (Redis slow or down): the other replicas' safety poll sees it
			h.dropped()
		}
	}
}

// wake signals the waiters of operation id.
func (h *hub) wake(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[id] {
		select {
		case ch <- struct{}{}:
		default: // already signalled
		}
	}
}

// wakeAll signals every waiter: each reads its operation again.
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, chans := range h.waiters {
		for ch := range chans {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// startFeed connects the hub to the other replicas: one goroutine publishes this process's
// changes in order, one delivers the others' to wake. stopFeedAfter stops both.
func (h *hub) startFeed(feed Feed, counts *prometheus.CounterVec, logger *slog.Logger) {
	pubCtx, stopPub := context.WithCancel(context.Background())
	subCtx, stopSub := context.WithCancel(context.Background())
	h.publish, h.drain = make(chan string, feedQueue), make(chan struct{})
	h.dropped = func() { counts.WithLabelValues("dropped").Inc() }
	failing := false
	send := func(id string) {
		ctx, cancel := context.WithTimeout(pubCtx, feedTimeout)
		err := feed.Publish(ctx, id)
		cancel()
		switch {
		case err == nil:
			counts.WithLabelValues("published").Inc()
			if failing {
				failing = false
				logger.Info("operation feed: publishing again")
			}
		case pubCtx.Err() != nil:
		default:
			counts.WithLabelValues("publish_failed").Inc()
			if !failing { // once per outage, not once per operation
				failing = true
				logger.Warn("operation feed: publishing failed; other replicas see changes by their safety poll", "err", err.Error())
			}
		}
	}
	published, subscribed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(published)
		for {
			select {
			case id := <-h.publish:
				send(id)
			case <-h.drain: // shutting down: what the last requests changed still goes out
				for {
					select {
					case id := <-h.publish:
						send(id)
					default:
						return
					}
				}
			}
		}
	}()
	go func() {
		defer close(subscribed)
		err := feed.Run(subCtx,
			func(id string) { counts.WithLabelValues("received").Inc(); h.wake(id) },
			func() { counts.WithLabelValues("resync").Inc(); h.wakeAll() })
		if err != nil && subCtx.Err() == nil {
			logger.Error("operation feed stopped; waiters see other replicas' changes by their safety poll", "err", err.Error())
		}
	}()
	h.stopFeed = func(ctx context.Context) {
		stopSub()
		close(h.drain)
		select {
		case <-published:
		case <-ctx.Done():
			stopPub() // abandon the rest: the other replicas' safety poll sees them
			<-published
		}
		stopPub()
		<-subscribed
	}
}

// subscribe returns a channel signalled when operation id changes, and its cancel.
func (h *hub) subscribe(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.waiters[id] == nil {
		h.waiters[id] = map[chan struct{}]struct{}{}
	}
	h.waiters[id][ch] = struct{}{}
	subscribed := h.subscribed
	h.mu.Unlock()
	if subscribed != nil {
		subscribed(id)
	}
	return ch, func() {
		h.mu.Lock()
		delete(h.waiters[id], ch)
		if len(h.waiters[id]) == 0 {
			delete(h.waiters, id)
		}
		h.mu.Unlock()
	}
}

// close releases every waiter (shutdown): long-polls answer the current state, streams end.
func (h *hub) close() { h.once.Do(func() { close(h.closed) }) }

// stopFeedAfter publishes what is still queued (the changes of the requests that finished
// during shutdown), then stops the feed; ctx bounds the wait. Call it after the listener
// has stopped and in-flight requests have finished.
func (h *hub) stopFeedAfter(ctx context.Context) {
	if h.stopFeed != nil {
		h.feedOnce.Do(func() { h.stopFeed(ctx) })
	}
}

// parseWait reads the long-poll wait: a Go duration ("30s") or whole seconds ("30"), at most
// maxLongPoll (longer asks are shortened to it).
func parseWait(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.Atoi(v)
		if nerr != nil {
			return 0, fault.Invalid("wait", "must be a duration such as 30s (at most 60s)")
		}
		// Compare before converting: n*time.Second can overflow and wrap (see seconds).
		d = time.Duration(min(max(n, -1), int(maxLongPoll/time.Second))) * time.Second
	}
	if d <= 0 {
		return 0, fault.Invalid("wait", "must be positive (at most 60s)")
	}
	return min(d, maxLongPoll), nil
}

// waitForChange returns op once it is no longer PENDING, or as it is when wait runs out. The
// request's own deadline is shorter than a long-poll, so store calls use a context of their own
// that keeps the request's values (request id, logger).
func (s *Server) waitForChange(reqCtx context.Context, op store.Operation, wait time.Duration) (store.Operation, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(reqCtx), wait+s.opts.RequestTimeout)
	defer cancel()
	changed, unsubscribe := s.hub.subscribe(op.ID)
	defer unsubscribe()
	// Read again after subscribing: a change between the first read and the subscription
	// would otherwise be missed until the next poll.
	op, err := s.getFresh(ctx, op.ID)
	if err != nil || op.Status != store.OpPending {
		return op, err
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	poll := time.NewTicker(s.opts.OperationPoll)
	defer poll.Stop()
	for {
		select {
		case <-timer.C:
			return op, nil
		case <-s.hub.closed:
			return op, nil
		case <-changed:
		case <-poll.C:
		}
		if op, err = s.getFresh(ctx, op.ID); err != nil || op.Status != store.OpPending {
			return op, err
		}
	}
}

// getFresh reads an operation with a short deadline of its own (expiry applied on read).
func (s *Server) getFresh(ctx context.Context, id string) (store.Operation, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.RequestTimeout)
	defer cancel()
	return s.deps.Operations.Get(ctx, id)
}

// operationEvents streams an operation's state as Server-Sent Events (WHATWG HTML §9.2): one
// "operation" event with the operation resource now and one at each change, then the stream
// ends when the operation is terminal. A comment line every 15 s keeps proxies from closing it.
func (s *Server) operationEvents(c *fiber.Ctx) error {
	op, err := s.deps.Operations.Get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	// The writer runs after the handler returns, when fiber's context is recycled and the
	// request's deadline has passed: take what it needs now.
	ctx := context.WithoutCancel(c.UserContext())
	conn := c.Context().Conn()
	changed, unsubscribe := s.hub.subscribe(op.ID)
	logger := loggerFrom(ctx, s.deps.Logger)
	// Read again after subscribing, as a long-poll does: a change between the first read and
	// the subscription (its notice came before this stream listened) would otherwise wait for
	// the safety poll.
	if op.Status == store.OpPending {
		if fresh, err := s.getFresh(ctx, op.ID); err == nil {
			op = fresh
		}
	}
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer unsubscribe()
		send := func(line string) bool {
			if conn != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(sseWriteWithin))
			}
			if _, err := w.WriteString(line); err != nil {
				return false
			}
			return w.Flush() == nil
		}
		event := func(op store.Operation) bool {
			data, err := json.Marshal(s.operationView(op))
			if err != nil {
				logger.ErrorContext(ctx, "operation event", "err", err)
				return false
			}
			// The status is the event id: a reconnecting client's Last-Event-ID says what it saw.
			return send("id: " + string(op.Status) + "\nevent: operation\ndata: " + string(data) + "\n\n")
		}
		if !send("retry: 2000\n\n") || !event(op) || op.Status != store.OpPending {
			return
		}
		end := time.NewTimer(sseMaxDuration)
		defer end.Stop()
		poll := time.NewTicker(s.opts.OperationPoll)
		defer poll.Stop()
		beat := time.NewTicker(sseHeartbeat)
		defer beat.Stop()
		for {
			select {
			case <-end.C:
				return
			case <-s.hub.closed:
				return
			case <-beat.C:
				if !send(": keep-alive\n\n") {
					return
				}
				continue
			case <-changed:
			case <-poll.C:
			}
			next, err := s.getFresh(ctx, op.ID)
			if err != nil {
				logger.WarnContext(ctx, "operation events: reading the operation failed", "err", err)
				continue
			}
			if next.Status == op.Status {
				continue
			}
			op = next
			if !event(op) || op.Status != store.OpPending {
				return
			}
		}
	})
	return nil
}
