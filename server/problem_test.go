package server

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

func TestProblemFor(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		detail string
	}{
		{errors.New("pq: password=hunter2 something broke"), 500, ""},
		{fmt.Errorf("sqlstore: get: %w: dial tcp: refused", store.ErrUnavailable), 503, ""},
		{fmt.Errorf("%w: replay store: redis down", fault.ErrUnavailable), 503, ""},
		{context.DeadlineExceeded, 503, ""},
		{fault.New(fault.ErrConflict, "the operation is APPROVED"), 409, "the operation is APPROVED"},
		{fmt.Errorf("account: %w", fault.New(fault.ErrGone, "the operation expired")), 410, "the operation expired"},
		// Only Public reaches the client: neither the cause nor text around a bare kind.
		{fault.Wrap(fault.ErrConflict, errors.New("pq: relation credentials"), "the activation cannot be removed"), 409, "the activation cannot be removed"},
		{fmt.Errorf("%w: row 17 of table credentials", fault.ErrNotFound), 404, ""},
		// An outage below any refusal is 503: the refusal could not be decided or recorded.
		{fault.Wrap(fault.ErrConflict, fmt.Errorf("sqlstore: update: %w", store.ErrUnavailable), "the activation cannot be removed"), 503, ""},
		{fmt.Errorf("%w: %w", fault.ErrUnauthenticated, context.DeadlineExceeded), 503, ""},
		{fault.ErrUnauthenticated, 401, ""},
		{fault.Invalid("amount", "must be positive"), 400, "invalid input: amount: must be positive"},
	} {
		p, _ := problemFor(tc.err)
		if p.Status != tc.status || p.Detail != tc.detail {
			t.Errorf("%v → %d %q, want %d %q", tc.err, p.Status, p.Detail, tc.status, tc.detail)
		}
	}
}
