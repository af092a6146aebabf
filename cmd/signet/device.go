package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/powerauth"
)

// newDeviceCmd is the device simulator: a PowerAuth mobile app on the command line, on the device SDK.
func newDeviceCmd(environ []string) *cobra.Command {
	var statePath, serverURL string
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Simulate a PowerAuth mobile device: activate, check status, list and approve operations, offline codes",
		Long: `A device simulator on Signet's Go device SDK. The activation is kept in a local JSON state file
(--state, mode 0600). The PIN protects the knowledge key as the PowerAuth SDK does: a wrong PIN is only
detected by the server, which blocks the activation after the maximum of failed attempts.`,
	}
	cmd.PersistentFlags().StringVar(&statePath, "state", "./device-state.json", "device state file")
	cmd.PersistentFlags().StringVar(&serverURL, "server", "", "Signet base URL (default: the one saved at activation, else http://localhost:8080)")
	var lang string
	cmd.PersistentFlags().StringVar(&lang, "lang", "", "Accept-Language sent to the server, e.g. cs or ar-BH (amounts are formatted in it)")

	load := func() (*device.State, *device.Client, error) {
		st, err := device.LoadState(statePath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("no device state at %s: run 'signet device activate' first", statePath)
		}
		if err != nil {
			return nil, nil, err
		}
		url := serverURL
		if url == "" {
			url = st.Server
		}
		if url == "" {
			url = "http://localhost:8080"
		}
		c := &device.Client{BaseURL: url, AcceptLanguage: lang, Persist: func(s *device.State) error { return s.Save(statePath) }}
		return st, c, nil
	}

	var pin, config, otp, name, version, platform string
	activate := &cobra.Command{
		Use:   "activate <activation-code | qr-payload>",
		Short: "Activate this device with an activation code or the scanned CODE#SIGNATURE payload",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if config == "" {
				config = envValue(environ, "SIGNET_DEVICE_CONFIG")
			}
			if config == "" {
				return errors.New("--config (or SIGNET_DEVICE_CONFIG) is required: the application's mobile_sdk_config")
			}
			if pin == "" {
				return errors.New("--pin is required")
			}
			if _, err := os.Stat(statePath); err == nil {
				return fmt.Errorf("%s already holds an activation; use another --state or remove it", statePath)
			}
			app, err := device.ParseAppConfig(config)
			if err != nil {
				return err
			}
			v, err := powerauth.ParseVersion(version)
			if err != nil {
				return err
			}
			url := serverURL
			if url == "" {
				url = "http://localhost:8080"
			}
			c := &device.Client{BaseURL: url, Version: v, Platform: platform, DeviceInfo: "signet device simulator"}
			st, err := c.Activate(cmd.Context(), app, args[0], pin, device.ActivateOptions{Name: name, OTP: otp})
			if err != nil {
				return err
			}
			if err := st.Save(statePath); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Activation ID: %s\nFingerprint:   %s\n", st.ActivationID, formatFingerprint(st.Fingerprint))
			c.Persist = func(s *device.State) error { return s.Save(statePath) }
			s, err := c.Status(cmd.Context(), st)
			switch {
			case err != nil:
				fmt.Fprintf(out, "Status:        unknown (%v); `signet device status` asks again.\n", err)
			case s.State == "ACTIVE":
				fmt.Fprintln(out, "Status:        ACTIVE (committed on key exchange); the device can sign now.")
			case s.State == "PENDING_COMMIT":
				fmt.Fprintln(out, "Status:        PENDING_COMMIT. Compare the fingerprint with the one the bank shows; the bank then commits the activation.")
			default:
				fmt.Fprintf(out, "Status:        %s\n", s.State)
			}
			return nil
		},
	}
	activate.Flags().StringVar(&pin, "pin", "", "PIN that protects the knowledge factor (required)")
	activate.Flags().StringVar(&config, "config", "", "the application's mobile_sdk_config (or SIGNET_DEVICE_CONFIG)")
	activate.Flags().StringVar(&otp, "otp", "", "additional activation OTP, when the bank issued one")
	activate.Flags().StringVar(&name, "name", "signet device", "activation name")
	activate.Flags().StringVar(&version, "version", "3.3", "protocol version: 3.3 or 3.2")
	activate.Flags().StringVar(&platform, "platform", "Android", "platform: Android or iOS")

	status := &cobra.Command{
		Use:   "status",
		Short: "Fetch and decrypt the activation status",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			s, err := c.Status(cmd.Context(), st)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Activation ID:   %s\nFingerprint:     %s\nStatus:          %s\nFailed attempts: %d of %d\n",
				st.ActivationID, formatFingerprint(st.Fingerprint), s.State, s.FailedAttempts, s.MaxFailedAttempts)
			if !s.CounterSynced {
				fmt.Fprintln(out, "Counter:         this device is ahead of the server (unsent signatures)")
			}
			return nil
		},
	}

	userInfo := &cobra.Command{
		Use:   "user-info",
		Short: "Fetch the user's claims (/pa/v3/user/info, end-to-end encrypted)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			claims, err := c.UserInfo(cmd.Context(), st)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(claims)
		},
	}

	var pushPlatform string
	pushRegister := &cobra.Command{
		Use:   "push-register <platform-token>",
		Short: "Register the phone's push token (FCM, APNs, HMS) so that new operations are pushed to it",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			if err := c.RegisterPushToken(cmd.Context(), st, pushPlatform, args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Push token registered.")
			return nil
		},
	}
	pushRegister.Flags().StringVar(&pushPlatform, "platform", "android", "android, ios or huawei (or fcm, apns, hms)")

	box := &cobra.Command{Use: "inbox", Short: "The user's inbox: messages the bank posted"}
	var unreadOnly bool
	boxList := &cobra.Command{
		Use:   "list",
		Short: "List the newest messages (and the unread count)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			n, err := c.InboxCount(cmd.Context(), st)
			if err != nil {
				return err
			}
			msgs, err := c.InboxList(cmd.Context(), st, 0, 100, unreadOnly)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Unread: %d\n", n)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tREAD\tSUBJECT\tSUMMARY\tCREATED")
			for _, m := range msgs {
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", m.ID, m.Read, m.Subject, m.Summary, m.TimestampCreated)
			}
			return tw.Flush()
		},
	}
	boxList.Flags().BoolVar(&unreadOnly, "unread", false, "only unread messages")
	boxRead := &cobra.Command{
		Use:   "read <message-id | --all>",
		Short: "Show a message and mark it read, or mark every message read (--all)",
		Args:  withUsage(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			all, _ := cmd.Flags().GetBool("all")
			if all == (len(args) == 1) {
				return errors.New("give a message id or --all")
			}
			st, c, err := load()
			if err != nil {
				return err
			}
			if all {
				if err := c.InboxReadAll(cmd.Context(), st); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), "All messages read.")
				return nil
			}
			m, err := c.InboxDetail(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			if err := c.InboxRead(cmd.Context(), st, m.ID); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\n\n%s\n", m.Subject, m.Summary, m.Body)
			return nil
		},
	}
	boxRead.Flags().Bool("all", false, "mark every message read")
	box.AddCommand(boxList, boxRead)

	ops := &cobra.Command{Use: "ops", Short: "Mobile-token operations"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List pending operations",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			list, err := c.ListOperations(cmd.Context(), st)
			if err != nil {
				return err
			}
			return printOperations(cmd.OutOrStdout(), list)
		},
	}
	var approvePIN string
	approve := &cobra.Command{
		Use:   "approve <operation-id>",
		Short: "Approve an operation with possession + knowledge (the PIN)",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if approvePIN == "" {
				return errors.New("--pin is required")
			}
			st, c, err := load()
			if err != nil {
				return err
			}
			op, err := c.OperationDetail(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\nData: %s\n", op.FormData.Title, op.FormData.Message, op.Data)
			if err := c.Approve(cmd.Context(), st, op, approvePIN); err != nil {
				return explainRefusal(cmd.Context(), c, st, err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Approved.")
			return nil
		},
	}
	approve.Flags().StringVar(&approvePIN, "pin", "", "PIN (required)")
	var reason string
	reject := &cobra.Command{
		Use:   "reject <operation-id>",
		Short: "Reject an operation (possession signature)",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			if err := c.Reject(cmd.Context(), st, args[0], reason); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Rejected.")
			return nil
		},
	}
	reject.Flags().StringVar(&reason, "reason", device.ReasonUnexpectedOperation, "UNKNOWN, INCORRECT_DATA or UNEXPECTED_OPERATION")
	var historyPIN string
	history := &cobra.Command{
		Use:   "history",
		Short: "List the user's operations of every status (signed with possession + knowledge)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if historyPIN == "" {
				return errors.New("--pin is required")
			}
			st, c, err := load()
			if err != nil {
				return err
			}
			list, err := c.History(cmd.Context(), st, historyPIN)
			if err != nil {
				return explainRefusal(cmd.Context(), c, st, err)
			}
			return printHistory(cmd.OutOrStdout(), list)
		},
	}
	history.Flags().StringVar(&historyPIN, "pin", "", "PIN (required)")
	claim := &cobra.Command{
		Use:   "claim <operation-id>",
		Short: "Claim an operation opened from a QR code or a deep link, so that only this activation decides it",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			op, err := c.ClaimOperation(cmd.Context(), st, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Claimed %s\n%s\n%s\n", op.ID, op.FormData.Title, op.FormData.Message)
			for _, a := range op.FormData.Attributes {
				if a.Type == "AMOUNT" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s\n", a.Label, a.AmountFormatted, a.CurrencyFormatted)
				}
			}
			return nil
		},
	}
	ops.AddCommand(list, history, claim, approve, reject)

	var offlinePIN string
	offline := &cobra.Command{
		Use:   "offline <qr-payload | ->",
		Short: "Verify an offline QR payload (its seven or more lines; - reads it from stdin) and print the code to type at the bank",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if offlinePIN == "" {
				return errors.New("--pin is required")
			}
			st, _, err := load()
			if err != nil {
				return err
			}
			qr := args[0]
			if qr == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 16<<10))
				if err != nil {
					return err
				}
				qr = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			}
			p, code, err := device.OfflineCode(st, qr, offlinePIN)
			if err != nil {
				return err
			}
			if err := st.Save(statePath); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\nData: %s\nCode: %s\n", p.Title, p.Message, p.OperationData, code)
			return nil
		},
	}
	offline.Flags().StringVar(&offlinePIN, "pin", "", "PIN (required)")

	cmd.AddCommand(activate, status, userInfo, pushRegister, box, ops, offline)
	return cmd
}

func formatFingerprint(f string) string {
	if len(f) != 8 {
		return f
	}
	return f[:4] + " " + f[4:]
}

func printOperations(w io.Writer, ops []device.Operation) error {
	if len(ops) == 0 {
		_, err := fmt.Fprintln(w, "No pending operations.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTITLE\tDETAILS\tEXPIRES")
	for _, op := range ops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", op.ID, op.FormData.Title, strings.ReplaceAll(op.FormData.Message, "\n", " / "), op.OperationExpires)
	}
	return tw.Flush()
}

func printHistory(w io.Writer, ops []device.Operation) error {
	if len(ops) == 0 {
		_, err := fmt.Fprintln(w, "No operations.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tTITLE\tCREATED")
	for _, op := range ops {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", op.ID, op.Status, op.FormData.Title, op.OperationCreated)
	}
	return tw.Flush()
}

func envValue(environ []string, key string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// withUsage: a wrong number of arguments answers with the command's usage line, not only the count.
func withUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w\nusage: %s", err, cmd.UseLine())
		}
		return nil
	}
}

// explainRefusal turns a refused signature into what the user needs to know: the activation's state and the
// tries left before it blocks, read from the status blob.
func explainRefusal(ctx context.Context, c *device.Client, st *device.State, refused error) error {
	s, err := c.Status(ctx, st)
	if err != nil {
		return refused
	}
	switch {
	case s.State == "BLOCKED":
		return fmt.Errorf("%w\nthe activation is BLOCKED (%d of %d failed attempts): the bank must unblock it", refused, s.FailedAttempts, s.MaxFailedAttempts)
	case s.State != "ACTIVE":
		return fmt.Errorf("%w\nthe activation is %s", refused, s.State)
	case s.FailedAttempts > 0:
		return fmt.Errorf("%w\nwrong PIN: %d of %d tries left before the activation blocks", refused, s.MaxFailedAttempts-s.FailedAttempts, s.MaxFailedAttempts)
	}
	return refused
}
