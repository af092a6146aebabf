package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/evidence"
	"github.com/signet-sca/signet/txsign/verify"
)

// newEvidenceCmd is `signet evidence verify`: an offline check of a dispute-evidence bundle.
func newEvidenceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "evidence", Short: "Work with dispute-evidence bundles (GET /v1/operations/{id}/evidence)"}
	var jwksPath string
	verifyCmd := &cobra.Command{
		Use:   "verify <bundle.json>",
		Short: "Re-check an evidence bundle offline, with no database, and say plainly what holds",
		Long: `Re-checks a bundle offline: Signet's seal over the whole file, the dynamic-linking digest recomputed from
the payee, amount, currency, nonce and expiry, the device's signature over that digest (or the passkey's WebAuthn
assertion), the transaction token's signature and claims, and the audit trail's approval. PowerAuth HMAC
signatures cannot be re-verified without Signet's server-side secrets; the report says so.

The keys that check the seal and the token come from the bundle itself. Pass --jwks with a copy of Signet's
published /.well-known/jwks.json that the bank kept (several sets may be merged into one "keys" array) to anchor
them. The exit status is non-zero when any check fails.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var opts evidence.VerifyOptions
			if jwksPath != "" {
				raw, err := os.ReadFile(jwksPath)
				if err != nil {
					return err
				}
				if opts.TrustedKeys, err = verify.ParseJWKS(raw); err != nil {
					return fmt.Errorf("--jwks: %w", err)
				}
			}
			report := evidence.Verify(data, opts)
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			for _, c := range report.Checks {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Result, c.Name, c.Detail)
			}
			_ = tw.Flush()
			if !report.OK() {
				fmt.Fprintln(out, "\nRESULT: the bundle does NOT verify; see the FAIL lines above.")
				return errors.New("evidence does not verify")
			}
			fmt.Fprintln(out, "\nRESULT: every check that can be made offline holds.")
			return nil
		},
	}
	verifyCmd.Flags().StringVar(&jwksPath, "jwks", "", "JWKS file with Signet's published keys, to anchor the bundle's keys")
	cmd.AddCommand(verifyCmd)
	return cmd
}
