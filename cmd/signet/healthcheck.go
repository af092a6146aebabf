package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/config"
)

// newHealthcheckCmd is a container health probe that needs no shell or curl (the image is distroless): it
// asks a running signet serve (or signet gateway, with --url) for /readyz and exits 0 only on 200.
func newHealthcheckCmd(environ []string) *cobra.Command {
	var target string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the local server answers /readyz with 200 (for container health checks)",
		Long: "Asks http://127.0.0.1:<port of SIGNET_HTTP_ADDR>/readyz, or --url, and exits 0 on 200, 1 otherwise. " +
			"For signet gateway, pass its readiness URL with --url.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if target == "" {
				cfg, err := config.Load(environ)
				if err != nil {
					return err
				}
				u, err := readyzURL(cfg.HTTPAddr)
				if err != nil {
					return err
				}
				target = u
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				return fmt.Errorf("healthcheck: %w", err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("healthcheck: %s: %w", target, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("healthcheck: %s answered %d: %s", target, resp.StatusCode, body)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", body)
			return nil
		},
	}
	cmd.Flags().StringVar(&target, "url", "", "readiness URL to probe (default: /readyz on SIGNET_HTTP_ADDR's port, on loopback)")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "give up after this long")
	return cmd
}

// readyzURL is /readyz on the loopback address of a listen address such as ":8080" or "0.0.0.0:8080".
func readyzURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("healthcheck: SIGNET_HTTP_ADDR %q names no port; use --url", listen)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
