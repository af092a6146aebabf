package sqlstore

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/signet-sca/signet/store"
)

func TestFailMapsOutagesToUnavailable(t *testing.T) {
	s := &Store{}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"unique violation is not an outage", &pgconn.PgError{Code: "23505"}, store.ErrAlreadyExists},
		{"syntax error is not an outage", &pgconn.PgError{Code: "42601"}, nil},
		{"plain error", errors.New("something else"), nil},
		{"admin shutdown (server restarting)", &pgconn.PgError{Code: "57P01"}, store.ErrUnavailable},
		{"cannot connect now (starting up)", &pgconn.PgError{Code: "57P03"}, store.ErrUnavailable},
		{"connection failure class 08", &pgconn.PgError{Code: "08006"}, store.ErrUnavailable},
		{"refused dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, store.ErrUnavailable},
		{"connection dropped mid-read", io.ErrUnexpectedEOF, store.ErrUnavailable},
		{"pgx conn closed", errors.New("conn closed"), store.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := s.fail(ctx, "op", tc.err)
			if tc.want == nil {
				if errors.Is(got, store.ErrUnavailable) || errors.Is(got, store.ErrAlreadyExists) {
					t.Fatalf("%v mapped to a sentinel", got)
				}
				return
			}
			if !errors.Is(got, tc.want) {
				t.Fatalf("%v is not %v", got, tc.want)
			}
		})
	}
}
