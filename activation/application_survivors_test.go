package activation

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/signet-sca/signet/fault"
)

// TestCreateApplicationName: an application's name (shown to admins and in the audit log) is at most 100
// characters, counted in runes not bytes, and holds no control character anywhere, the first position
// included (an ANSI escape at the start would repaint an admin's terminal reading the log). Kills
// application.go:33 <= 100 → < 100 and application.go:34 IndexFunc(...) < 0 → <= 0.
func TestCreateApplicationName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	hundred := strings.Repeat("é", 100) // 200 bytes
	tests := []struct {
		name, appName, reason string // reason "": created
	}{
		{"101 characters", hundred + "x", "must be at most 100 characters"},
		{"escape as the first character", "\x1b[31mBank", "must not contain control characters"},
		{"control character inside", "Ba\x00nk", "must not contain control characters"},
		{"blank", " \t ", "is required"},
		{"exactly 100 characters", hundred, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := f.s.CreateApplication(ctx, "test", tt.appName)
			if tt.reason == "" {
				if err != nil || app.Name != tt.appName {
					t.Fatalf("got %q, %v; want %q created", app.Name, err, tt.appName)
				}
				return
			}
			var inv *fault.InvalidError
			if !errors.As(err, &inv) || len(inv.Problems) != 1 || inv.Problems[0].Field != "name" || inv.Problems[0].Reason != tt.reason {
				t.Fatalf("got %v, want name %s", err, tt.reason)
			}
		})
	}
}
