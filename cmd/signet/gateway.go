package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/gateway"
)

// newGatewayCmd runs `signet gateway`, the reverse proxy of the gateway package.
func newGatewayCmd(environ []string) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run the transaction-token gateway: a reverse proxy that passes a guarded request only with a valid, unused token matching it",
		Long: `signet gateway sits in front of a payment API. On every route of its YAML configuration that requires a
token it takes the transaction token from "Authorization: Bearer" or "Txn-Token", verifies it against Signet's
JWKS, checks that the request's amount, currency and payee equal the approved ones, consumes the token once
(Redis GETDEL, or Signet's consume endpoint) and forwards the request with Signet-Operation and Signet-Subject
headers. Refusals: 401 no or invalid token, 403 mismatch, 409 already used, 503 when Redis or Signet cannot be
reached (it never accepts when unsure). With "mode: authz" it forwards nothing and answers the forward-auth
checks of nginx (auth_request), Traefik, Caddy or Envoy (ext_authz) instead: 200 with the identity headers, or
the refusal. See docs/gateway.md for the configuration file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := gateway.Load(path)
			if err != nil {
				return err
			}
			logger := toolLogger(environ, cmd.ErrOrStderr())
			g, err := gateway.New(cfg, gateway.WithLogger(logger))
			if err != nil {
				return err
			}
			defer g.Close()
			wctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			if err := g.Warm(wctx); err != nil {
				logger.Warn("Signet's JWKS is not reachable yet; token requests answer 503 until it is", "err", err)
			}
			cancel()
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return err
			}
			var adminLn net.Listener
			if cfg.AdminListen != "" {
				if adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
					ln.Close()
					return err
				}
			}
			logger.Info("signet gateway listening", "addr", ln.Addr().String(), "upstream", cfg.Upstream, "routes", len(cfg.Routes),
				"consume", cfg.Consume)
			if cfg.Mode == gateway.ModeAuthz {
				fmt.Fprintf(cmd.OutOrStdout(), "Signet gateway answering forward-auth checks on http://%s\n", displayAddr(ln.Addr()))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Signet gateway on http://%s in front of %s\n", displayAddr(ln.Addr()), cfg.Upstream)
			}
			return g.Serve(cmd.Context(), ln, adminLn)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "gateway.yaml", "gateway configuration file (YAML)")
	return cmd
}

// toolLogger is the logger of the commands that run without Signet's configuration
// (gateway, demo-payments): SIGNET_LOG_FORMAT and SIGNET_LOG_LEVEL only.
func toolLogger(environ []string, w io.Writer) *slog.Logger {
	c := config.Config{LogFormat: "text", LogLevel: "info"}
	for _, kv := range environ {
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "SIGNET_LOG_FORMAT":
			c.LogFormat = v
		case "SIGNET_LOG_LEVEL":
			c.LogLevel = v
		}
	}
	return newLogger(w, c)
}
