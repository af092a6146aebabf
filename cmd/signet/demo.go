package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/gateway/demopay"
)

// newDemoPaymentsCmd runs the demo payment API that docker-compose puts behind the gateway.
func newDemoPaymentsCmd(environ []string) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "demo-payments",
		Short: "Run a tiny payment API for the gateway demo (POST /payments, GET /payments)",
		Long: `A stand-in for a bank's payment service: POST /payments {"amount","currency","creditor_account"} is
accepted and recorded with the Signet-Operation and Signet-Subject headers the gateway set; GET /payments lists
the last 1,000 recorded calls. It checks nothing itself: run it only behind signet gateway, for demonstrations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := toolLogger(environ, cmd.ErrOrStderr())
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: demopay.New().Handler(), ReadHeaderTimeout: 10 * time.Second}
			logger.Info("demo payment API listening", "addr", ln.Addr().String())
			fmt.Fprintf(cmd.OutOrStdout(), "Demo payment API on http://%s\n", displayAddr(ln.Addr()))
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-cmd.Context().Done():
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", ":9000", "listen address")
	return cmd
}
