package main

import (
	"context"
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
		c := &device.Client{BaseURL: url, Persist: func(s *device.State) error { return s.Save(statePath) }}
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
			return finishActivation(cmd, statePath, serverURL, config, version, platform, func(c *device.Client, app device.AppConfig) (*device.State, error) {
				return c.Activate(cmd.Context(), app, args[0], pin, device.ActivateOptions{Name: name, OTP: otp})
			})
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
	ops.AddCommand(list, approve, reject)

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

	// Activation recovery (PowerAuth 3.x, Activation via Recovery Code) and custom credentials.
	var puk string
	recover := &cobra.Command{
		Use:   "recover <recovery-code | R:recovery-code>",
		Short: "Activate this device with a recovery code and its PUK; replaces the activation the code came with",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pin == "" || puk == "" {
				return errors.New("--pin and --puk are required")
			}
			if config == "" {
				config = envValue(environ, "SIGNET_DEVICE_CONFIG")
			}
			return finishActivation(cmd, statePath, serverURL, config, version, platform, func(c *device.Client, app device.AppConfig) (*device.State, error) {
				st, err := c.ActivateWithRecoveryCode(cmd.Context(), app, args[0], puk, pin, device.ActivateOptions{Name: name})
				var pe *device.Error
				if errors.As(err, &pe) && pe.CurrentRecoveryPukIndex > 0 {
					return nil, fmt.Errorf("wrong PUK: use PUK number %d of the recovery code", pe.CurrentRecoveryPukIndex)
				}
				return st, err
			})
		},
	}
	var attrs []string
	activateCustom := &cobra.Command{
		Use:   "activate-custom --attr name=value...",
		Short: "Activate this device with the bank's own credentials (the bank's activation hook checks them)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pin == "" || len(attrs) == 0 {
				return errors.New("--pin and at least one --attr are required")
			}
			if config == "" {
				config = envValue(environ, "SIGNET_DEVICE_CONFIG")
			}
			identity := map[string]string{}
			for _, a := range attrs {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("--attr %q: want name=value", a)
				}
				identity[k] = v
			}
			return finishActivation(cmd, statePath, serverURL, config, version, platform, func(c *device.Client, app device.AppConfig) (*device.State, error) {
				return c.ActivateWithCustomCredentials(cmd.Context(), app, identity, pin, device.ActivateOptions{Name: name})
			})
		},
	}
	for _, c := range []*cobra.Command{recover, activateCustom} {
		c.Flags().StringVar(&pin, "pin", "", "PIN that protects the knowledge factor (required)")
		c.Flags().StringVar(&config, "config", "", "the application's mobile_sdk_config (or SIGNET_DEVICE_CONFIG)")
		c.Flags().StringVar(&name, "name", "signet device", "activation name")
		c.Flags().StringVar(&version, "version", "3.3", "protocol version: 3.3 or 3.2")
		c.Flags().StringVar(&platform, "platform", "Android", "platform: Android or iOS")
	}
	recover.Flags().StringVar(&puk, "puk", "", "the recovery PUK: 10 digits, a dash after the fifth allowed (required)")
	activateCustom.Flags().StringArrayVar(&attrs, "attr", nil, "identity attribute name=value (repeatable)")

	recovery := &cobra.Command{Use: "recovery", Short: "Recovery code of this activation; confirm a recovery postcard"}
	var recoveryPIN string
	show := &cobra.Command{
		Use:   "show",
		Short: "Unlock the vault and print the recovery code and PUK the server sent with this activation",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			if recoveryPIN == "" {
				return errors.New("--pin is required")
			}
			rd, err := c.RecoveryData(cmd.Context(), st, recoveryPIN)
			if err != nil {
				return explainRefusal(cmd.Context(), c, st, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Recovery code: %s\nPUK:           %s-%s\n", rd.RecoveryCode, rd.PUK[:5], rd.PUK[5:])
			return nil
		},
	}
	confirm := &cobra.Command{
		Use:   "confirm <recovery-code | R:recovery-code>",
		Short: "Confirm a recovery code received on a postcard, so that it can recover this user's activation",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			if recoveryPIN == "" {
				return errors.New("--pin is required")
			}
			already, err := c.ConfirmRecoveryCode(cmd.Context(), st, recoveryPIN, args[0])
			if err != nil {
				return explainRefusal(cmd.Context(), c, st, err)
			}
			if already {
				fmt.Fprintln(cmd.OutOrStdout(), "The recovery code was already confirmed.")
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "Recovery code confirmed: it can now recover this user's activation.")
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{show, confirm} {
		c.Flags().StringVar(&recoveryPIN, "pin", "", "PIN (required)")
	}
	recovery.AddCommand(show, confirm)

	upgrade := &cobra.Command{
		Use:   "upgrade",
		Short: "Ask the server for an activation upgrade (/pa/v3/upgrade/start, then commit)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := load()
			if err != nil {
				return err
			}
			if _, err := c.StartUpgrade(cmd.Context(), st); err != nil {
				if device.IsCode(err, "ERR_UPGRADE") {
					fmt.Fprintln(cmd.OutOrStdout(), "No upgrade: the activation is on the newest protocol version.")
					return nil
				}
				return err
			}
			if err := c.CommitUpgrade(cmd.Context(), st); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Upgraded.")
			return nil
		},
	}

	cmd.AddCommand(activate, recover, activateCustom, recovery, upgrade, status, ops, offline)
	return cmd
}

// finishActivation is the common part of the activate commands: configuration, client, the activation
// itself (do), the state file and the status report.
func finishActivation(cmd *cobra.Command, statePath, serverURL, config, version, platform string,
	do func(*device.Client, device.AppConfig) (*device.State, error)) error {
	if config == "" {
		return errors.New("--config (or SIGNET_DEVICE_CONFIG) is required: the application's mobile_sdk_config")
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
	st, err := do(c, app)
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
	if st.HasRecoveryData() {
		fmt.Fprintln(out, "Recovery:      the server sent a recovery code and PUK; `signet device recovery show --pin ...` prints them.")
	}
	return nil
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
