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
		{fmt.Errorf("%w: the operation is APPROVED", fault.ErrConflict), 409, "the operation is APPROVED"},
		{fmt.Errorf("%w: the operation expired", fault.ErrGone), 410, "the operation expired"},
		{fault.ErrUnauthenticated, 401, ""},
		{fault.Invalid("amount", "must be positive"), 400, "invalid input: amount: must be positive"},
	} {
		p, _ := problemFor(tc.err)
		if p.Status != tc.status || p.Detail != tc.detail {
			t.Errorf("%v → %d %q, want %d %q", tc.err, p.Status, p.Detail, tc.status, tc.detail)
		}
	}
}
