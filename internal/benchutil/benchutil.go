// Package benchutil reports benchmark throughput as operations per second and
// as a ratio to a raw cryptographic or network primitive measured in the same
// run, so numbers from different machines compare by their shape.
package benchutil

import (
	"testing"
	"time"
)

// Raw measures fn's time per call (after a short warm-up), in nanoseconds.
func Raw(b *testing.B, n int, fn func()) float64 {
	b.Helper()
	for i := 0; i < n/10+1; i++ {
		fn()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		fn()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// Report stops the timer and adds "ops/s" and, for each raw primitive,
// "x<name>": this benchmark's time per operation divided by the primitive's,
// measured now by calling raw (which returns ns per call, e.g. via Raw). Call
// it right after the timed loop.
func Report(b *testing.B, raw map[string]func() float64) {
	b.Helper()
	b.StopTimer()
	if b.N == 0 || b.Elapsed() == 0 {
		return
	}
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(1e9/perOp, "ops/s")
	for name, measure := range raw {
		if ns := measure(); ns > 0 {
			b.ReportMetric(perOp/ns, "x"+name)
		}
	}
}
