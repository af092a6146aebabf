package server

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// Cross-device approval: the internet-banking session waits while the phone approves. It learns
// the outcome by long-poll (GET /v1/operations/{id}?wait=30s) or Server-Sent Events (GET
// /v1/operations/{id}/events). A status change in this process wakes waiters at once (the hub is
// a txsign.Observer); a change made by another replica is seen by polling the store every
// Options.OperationPoll (default defaultPollEvery).
const (
	maxLongPoll      = 60 * time.Second
	defaultPollEvery = time.Second
	sseHeartbeat     = 15 * time.Second
	sseMaxDuration   = time.Hour + 5*time.Minute // the longest operation lifetime, plus the sweeper's lag
	sseWriteWithin   = 30 * time.Second          // a client that does not read for this long is dropped
)

// hub wakes requests waiting on an operation.
type hub struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{}
	closed  chan struct{}
	once    sync.Once
	// subscribed, when set (tests only, under mu), is called with the operation id after each
	// subscription is registered, so a test can change the operation once a waiter listens.
	subscribed func(id string)
}

func newHub() *hub {
	return &hub{waiters: map[string]map[chan struct{}]struct{}{}, closed: make(chan struct{})}
}

// OperationChanged implements txsign.Observer.
func (h *hub) OperationChanged(_ context.Context, op store.Operation) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.waiters[op.ID] {
		select {
		case ch <- struct{}{}:
		default: // already signalled
		}
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
