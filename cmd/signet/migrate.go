package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/store/sqlstore"
)

func newMigrateCmd(environ []string) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations (embedded in the binary) and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(environ)
			if err != nil {
				return err
			}
			st, err := sqlstore.Open(cmd.Context(), cfg.DatabaseURL, sqlstore.WithLogger(newLogger(cmd.ErrOrStderr(), cfg)))
			if err != nil {
				return fmt.Errorf("database: %w", err)
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			applied, err := st.MigrateReporting(cmd.Context(), func(name string) { fmt.Fprintf(out, "applying %s ...\n", name) })
			if err != nil {
				return fmt.Errorf("migrations: %w", err)
			}
			if len(applied) == 0 {
				fmt.Fprintln(out, "database is up to date")
				return nil
			}
			for _, m := range applied {
				fmt.Fprintln(out, "applied", m)
			}
			fmt.Fprintf(out, "%d migration(s) applied\n", len(applied))
			return nil
		},
	}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
