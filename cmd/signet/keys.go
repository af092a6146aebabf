package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/store/sqlstore"
	"github.com/signet-sca/signet/txsign"
)

func newKeysCmd(environ []string) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage transaction-token signing keys"}
	open := func(cmd *cobra.Command) (*sqlstore.Store, *txsign.Keyring, error) {
		cfg, err := loadConfig(environ)
		if err != nil {
			return nil, nil, err
		}
		if err := findEmbeddedInstance(&cfg); err != nil {
			return nil, nil, err
		}
		st, ring, err := openCore(cmd.Context(), cfg, true, newLogger(cmd.ErrOrStderr(), cfg))
		if err != nil {
			return nil, nil, err
		}
		kr := txsign.NewKeyring(st, ring, txsign.KeyringConfig{MaxTokenTTL: config.MaxTokenTTL})
		if err := kr.Ensure(cmd.Context()); err != nil {
			st.Close()
			return nil, nil, err
		}
		return st, kr, nil
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Promote the next key to active, retire the active key and create a new next key",
		Long: "Rotation is safe while servers run: the next key has been published in the JWKS before it signs, " +
			"and the retired key stays published until every token it signed has expired.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, kr, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			id, err := kr.Rotate(cmd.Context())
			if err != nil {
				return err
			}
			if id == "" {
				fmt.Fprintln(cmd.OutOrStdout(), "another replica rotated at the same moment; nothing to do")
				return nil
			}
			fmt.Fprintln(cmd.OutOrStdout(), "active signing key is now", id)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List signing keys and their states",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, _, err := open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.ListSigningKeys(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KID\tSTATE\tCREATED\tACTIVATED\tPUBLISHED UNTIL")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.ID, k.State, k.CreatedAt.Format(time.RFC3339), fmtTime(k.ActivatedAt), fmtTime(k.PublishUntil))
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(rotate, list)
	return cmd
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
