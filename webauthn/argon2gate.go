package webauthn

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/signet-sca/signet/fault"
)

// Argon2Gate bounds passcode hashing. Argon2id is memory-hard by design
// (RFC 9106 §3.1: each hash fills MemoryKiB of memory), so N hashes at once
// hold N × MemoryKiB and, past the core count, only queue for CPU while
// holding it: 32 concurrent approvals at 19 MiB held 730 MiB (issue 17).
//
// The gate has two bounds:
//   - slots: at most this many hashes run at a time (default one per core,
//     divided by the Argon2 lanes each hash uses), so memory stays at
//     slots × MemoryKiB whatever the load;
//   - queue: at most this many further requests wait for a slot. A request
//     beyond slots + queue is refused at once with a fault.ErrUnavailable that
//     carries a retry delay (HTTP 503 with Retry-After, RFC 9110 §10.2.3)
//     before it changed anything, so the client retries the same ceremony.
//
// A waiting request whose context ends leaves the queue.
type Argon2Gate struct {
	admit chan struct{} // capacity slots + queue: requests in the hashing phase
	slots chan struct{} // capacity slots: hashes running
	retry time.Duration

	active, peak atomic.Int64 // hashes running now / at most so far (instrumentation)
	refused      atomic.Int64
	waiting      atomic.Int64 // requests waiting for a slot
	// hook, when set (tests only), runs inside each hash while it holds its slot.
	hook func()
}

// DefaultArgon2Queue is the default number of requests that may wait for a
// hashing slot.
const DefaultArgon2Queue = 32

// NewArgon2Gate returns a gate running at most slots hashes at once with at
// most queue requests waiting. slots 0 means runtime.GOMAXPROCS(0) divided by
// the lanes of one hash (at least 1); queue < 0 means DefaultArgon2Queue.
func NewArgon2Gate(slots, queue int, p Argon2Params) *Argon2Gate {
	if slots <= 0 {
		slots = max(runtime.GOMAXPROCS(0)/max(int(p.Threads), 1), 1)
	}
	if queue < 0 {
		queue = DefaultArgon2Queue
	}
	return &Argon2Gate{admit: make(chan struct{}, slots+queue), slots: make(chan struct{}, slots), retry: time.Second}
}

// Slots is the number of hashes that may run at once; Queue the number of
// requests that may wait for one.
func (g *Argon2Gate) Slots() int { return cap(g.slots) }

// Queue is the number of requests that may wait for a hashing slot.
func (g *Argon2Gate) Queue() int { return cap(g.admit) - cap(g.slots) }

// Peak is the largest number of hashes that ran at once so far.
func (g *Argon2Gate) Peak() int { return int(g.peak.Load()) }

// InFlight is the number of requests admitted to the hashing phase now
// (running or waiting).
func (g *Argon2Gate) InFlight() int { return len(g.admit) }

// Waiting is the number of requests waiting for a slot now.
func (g *Argon2Gate) Waiting() int { return int(g.waiting.Load()) }

// Refused is the number of requests refused because the queue was full.
func (g *Argon2Gate) Refused() int { return int(g.refused.Load()) }

// Admit lets one request into the hashing phase, or refuses it at once when
// slots + queue requests are already in it. release must be called once.
func (g *Argon2Gate) Admit() (release func(), err error) {
	select {
	case g.admit <- struct{}{}:
		var done atomic.Bool
		return func() {
			if done.CompareAndSwap(false, true) {
				<-g.admit
			}
		}, nil
	default:
		g.refused.Add(1)
		return nil, &fault.RetryAfterError{Err: fault.New(fault.ErrUnavailable, "too many passcode checks in progress; retry shortly"), After: g.retry}
	}
}

// acquire waits for a hashing slot, or for ctx to end (the waiter then leaves
// the queue). release must be called once.
func (g *Argon2Gate) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.waiting.Add(1)
	select {
	case g.slots <- struct{}{}:
		g.waiting.Add(-1)
	case <-ctx.Done():
		g.waiting.Add(-1)
		return nil, ctx.Err()
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			<-g.slots
		}
	}, nil
}

// hash computes Argon2id; the caller holds a slot. It records how many run at
// once, so tests can check the bound.
func (g *Argon2Gate) hash(pepper []byte, p Passcode, salt []byte, params Argon2Params) []byte {
	n := g.active.Add(1)
	defer g.active.Add(-1)
	for {
		old := g.peak.Load()
		if n <= old || g.peak.CompareAndSwap(old, n) {
			break
		}
	}
	if g.hook != nil {
		g.hook()
	}
	return argon2Hash(pepper, p, salt, params)
}
