package server

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-sca/signet/store"
)

func TestParseWait(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		invalid bool
	}{
		{in: "soon", invalid: true},
		{in: "-5s", invalid: true},
		{in: "0", invalid: true},
		{in: "0s", invalid: true},
		{in: "1.5", invalid: true},
		{in: "-36028797018963908", invalid: true},   // 60 - 2^55 seconds: wraps to +60 s if converted first
		{in: "-36028797018964028", invalid: true},   // -(60 + 2^55): wraps to -60 s
		{in: "99999999999999999999", invalid: true}, // beyond int64
		{in: "", want: 0},
		{in: "30s", want: 30 * time.Second},
		{in: "30", want: 30 * time.Second},
		{in: "500ms", want: 500 * time.Millisecond},
		{in: "2m", want: 60 * time.Second}, // at most 60 s
		{in: "86400", want: 60 * time.Second},
		{in: "36028797018963968", want: 60 * time.Second}, // 2^55 s wraps to 0 if converted first
		{in: "9223372036854775807", want: 60 * time.Second},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in)
		if (err != nil) != tt.invalid || got != tt.want {
			t.Errorf("parseWait(%q) = %s, %v", tt.in, got, err)
		}
	}
}

// gatedFeed is a feed whose Publish waits for the test (a slow Redis).
type gatedFeed struct {
	gate chan struct{}
	got  chan string
}

func (f *gatedFeed) Publish(ctx context.Context, id string) error {
	select {
	case <-f.gate:
		f.got <- id
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *gatedFeed) Run(ctx context.Context, _ func(string), _ func()) error {
	<-ctx.Done()
	return nil
}

// TestStopFeedPublishesWhatIsQueued: changes queued behind a slow Redis when a replica starts
// its graceful shutdown are still published (a rolling restart loses no wake-up), and then the
// feed stops.
func TestStopFeedPublishesWhatIsQueued(t *testing.T) {
	const n = 20
	f := &gatedFeed{gate: make(chan struct{}), got: make(chan string, n)}
	h := newHub()
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "feed"}, []string{"result"})
	h.startFeed(f, counts, slog.New(slog.DiscardHandler))
	for i := range n {
		h.OperationChanged(context.Background(), store.Operation{ID: strconv.Itoa(i)})
	}
	stopped := make(chan struct{})
	go func() { h.stopFeedAfter(context.Background()); close(stopped) }()
	<-h.drain // the shutdown has begun; Redis answers again from now on
	for done := false; !done; {
		select {
		case f.gate <- struct{}{}:
		case <-stopped:
			done = true
		}
	}
	close(f.got)
	var got []string
	for id := range f.got {
		got = append(got, id)
	}
	if len(got) != n {
		t.Fatalf("published %d of the %d queued changes: %v", len(got), n, got)
	}
	for i, id := range got {
		if id != strconv.Itoa(i) {
			t.Fatalf("published out of order: %v", got)
		}
	}
}
