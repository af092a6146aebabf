package main

import (
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newRootCmd(environ []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "signet",
		Short:         "Strong customer authentication server: passkeys, PowerAuth activations, device keys and transaction tokens",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(environ), newMigrateCmd(environ), newKeysCmd(environ), newVersionCmd(), newHealthcheckCmd(environ))
	root.AddCommand(newBenchCmd(environ))
	root.AddCommand(newDeviceCmd(environ))
	root.AddCommand(newGatewayCmd(environ), newDemoPaymentsCmd(environ), newEvidenceCmd(), newAuditCmd(environ))
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintln(cmd.OutOrStdout(), "signet", v)
			return nil
		},
	}
}

// loadConfig loads and validates the configuration, reporting every problem.
func loadConfig(environ []string) (config.Config, error) {
	cfg, err := config.Load(environ)
	if err == nil {
		err = cfg.DatabaseURLError() // before any command opens, and so creates, an SQLite file
	}
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n  %s", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, nil
}

func newLogger(w io.Writer, cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
