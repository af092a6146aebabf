package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/device"
	"github.com/signet-sca/signet/devicekey/attest"
	"github.com/signet-sca/signet/devicekey/attest/attesttest"
	"github.com/signet-sca/signet/powerauth"
)

// newDeviceCmd is the device simulator: a PowerAuth mobile app on the command line, on the device SDK.
func newDeviceCmd(environ []string) *cobra.Command {
	f := &deviceFlags{}
	cmd := &cobra.Command{
		Use:   "device",
		Short: "Simulate a mobile device: PowerAuth activation, status, operations and offline codes; device-key registration with test attestations",
		Long: `A device simulator on Signet's Go device SDK. The activation is kept in a local JSON state file
(--state, mode 0600). The PIN protects the knowledge key as the PowerAuth SDK does: a wrong PIN is only
detected by the server, which blocks the activation after the maximum of failed attempts.`,
	}
	cmd.PersistentFlags().StringVar(&f.statePath, "state", "./device-state.json", "device state file")
	cmd.PersistentFlags().StringVar(&f.serverURL, "server", "", "Signet base URL (default: the one saved at activation, else http://localhost:8080)")
	cmd.PersistentFlags().StringVar(&f.lang, "lang", "", "Accept-Language sent to the server, e.g. cs or ar-BH (amounts are formatted in it)")
	ops := &cobra.Command{Use: "ops", Short: "Mobile-token operations"}
	ops.AddCommand(newDeviceListCmd(f), newDeviceHistoryCmd(f), newDeviceClaimCmd(f), newDeviceApproveCmd(f), newDeviceRejectCmd(f))
	cmd.AddCommand(newDeviceActivateCmd(f, environ), newDeviceRecoverCmd(f, environ), newDeviceActivateCustomCmd(f, environ),
		newDeviceRecoveryCmd(f), newDeviceUpgradeCmd(f), newDeviceStatusCmd(f), newDeviceUserInfoCmd(f),
		newDevicePushRegisterCmd(f), newDeviceInboxCmd(f), ops, newDeviceOfflineCmd(f),
		newTestCACmd(), newRegisterKeyCmd(&f.serverURL))
	return cmd
}

// deviceFlags are the flags every device subcommand shares.
type deviceFlags struct {
	statePath, serverURL string
	lang                 string // Accept-Language sent to the server
}

// load reads the device state and makes a client for its server that persists every state change.
func (f *deviceFlags) load() (*device.State, *device.Client, error) {
	st, err := device.LoadState(f.statePath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("no device state at %s: run 'signet device activate' first", f.statePath)
	}
	if err != nil {
		return nil, nil, err
	}
	url := f.serverURL
	if url == "" {
		url = st.Server
	}
	if url == "" {
		url = "http://localhost:8080"
	}
	c := &device.Client{BaseURL: url, AcceptLanguage: f.lang, Persist: func(s *device.State) error { return s.Save(f.statePath) }}
	return st, c, nil
}

// activateOptions are the flags of signet device activate.
type activateOptions struct {
	pin, config, otp, name, version, platform string
}

func newDeviceActivateCmd(f *deviceFlags, environ []string) *cobra.Command {
	var o activateOptions
	activate := &cobra.Command{
		Use:   "activate <activation-code | qr-payload>",
		Short: "Activate this device with an activation code or the scanned CODE#SIGNATURE payload",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return f.activateWith(cmd, environ, o, func(c *device.Client, app device.AppConfig) (*device.State, error) {
				return c.Activate(cmd.Context(), app, args[0], o.pin, device.ActivateOptions{Name: o.name, OTP: o.otp})
			})
		},
	}
	activationFlags(activate, &o)
	activate.Flags().StringVar(&o.otp, "otp", "", "additional activation OTP, when the bank issued one")
	return activate
}

// activationClient checks the activate flags and makes the client of a new activation.
func (f *deviceFlags) activationClient(o activateOptions) (*device.Client, device.AppConfig, error) {
	if o.config == "" {
		return nil, device.AppConfig{}, errors.New("--config (or SIGNET_DEVICE_CONFIG) is required: the application's mobile_sdk_config")
	}
	if o.pin == "" {
		return nil, device.AppConfig{}, errors.New("--pin is required")
	}
	if _, err := os.Stat(f.statePath); err == nil {
		return nil, device.AppConfig{}, fmt.Errorf("%s already holds an activation; use another --state or remove it", f.statePath)
	}
	app, err := device.ParseAppConfig(o.config)
	if err != nil {
		return nil, device.AppConfig{}, err
	}
	v, err := powerauth.ParseVersion(o.version)
	if err != nil {
		return nil, device.AppConfig{}, err
	}
	url := f.serverURL
	if url == "" {
		url = "http://localhost:8080"
	}
	return &device.Client{BaseURL: url, Version: v, Platform: o.platform, DeviceInfo: "signet device simulator"}, app, nil
}

// printActivation prints a new activation and asks the server for its status.
func printActivation(ctx context.Context, out io.Writer, c *device.Client, st *device.State) {
	fmt.Fprintf(out, "Activation ID: %s\nFingerprint:   %s\n", st.ActivationID, formatFingerprint(st.Fingerprint))
	s, err := c.Status(ctx, st)
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
}

func newDeviceStatusCmd(f *deviceFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Fetch and decrypt the activation status",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := f.load()
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
}

func newDeviceListCmd(f *deviceFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List pending operations",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := f.load()
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
}

func newDeviceApproveCmd(f *deviceFlags) *cobra.Command {
	var approvePIN string
	approve := &cobra.Command{
		Use:   "approve <operation-id>",
		Short: "Approve an operation with possession + knowledge (the PIN)",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if approvePIN == "" {
				return errors.New("--pin is required")
			}
			st, c, err := f.load()
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
	return approve
}

func newDeviceRejectCmd(f *deviceFlags) *cobra.Command {
	var reason string
	reject := &cobra.Command{
		Use:   "reject <operation-id>",
		Short: "Reject an operation (possession signature)",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := f.load()
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
	return reject
}

func newDeviceOfflineCmd(f *deviceFlags) *cobra.Command {
	var offlinePIN string
	offline := &cobra.Command{
		Use:   "offline <qr-payload | ->",
		Short: "Verify an offline QR payload (its seven or more lines; - reads it from stdin) and print the code to type at the bank",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if offlinePIN == "" {
				return errors.New("--pin is required")
			}
			st, _, err := f.load()
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
			if err := st.Save(f.statePath); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n%s\nData: %s\nCode: %s\n", p.Title, p.Message, p.OperationData, code)
			return nil
		},
	}
	offline.Flags().StringVar(&offlinePIN, "pin", "", "PIN (required)")
	return offline
}

// newTestCACmd writes a test attestation CA: what a server trusts in tests and demos instead of
// Google's or Apple's roots.
func newTestCACmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test-ca <file>",
		Short: "Create a test attestation CA (<file>, with its keys) and its root certificate (<file>.root.pem) for SIGNET_ANDROID_ATTESTATION_ROOTS / SIGNET_APPLE_APPATTEST_ROOTS",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ca, err := attesttest.NewCA("signet device", time.Now())
			if err != nil {
				return err
			}
			if err := writeNew(args[0], ca.PEM()); err != nil {
				return err
			}
			if err := writeNew(args[0]+".root.pem", ca.RootPEM()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Test CA: %s\nRoot certificate for the server: %s.root.pem\n", args[0], args[0])
			return nil
		},
	}
}

// writeNew creates path with mode 0600, refusing to overwrite.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// newRegisterKeyCmd registers a device key (POST /v1/devices), optionally with a test attestation.
func newRegisterKeyCmd(serverURL *string) *cobra.Command {
	var keyPath, format, caPath, appID, userAuth, label string
	cmd := &cobra.Command{
		Use:   "register-key <registration-code>",
		Short: "Register a device key (P-256, kept in --key) with a registration code, optionally with a test attestation (--attest, --test-ca)",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := loadOrCreateKey(keyPath)
			if err != nil {
				return err
			}
			opt := device.DeviceKeyOptions{Label: label, Platform: map[string]string{attest.FormatAppleAppAtt: "iOS"}[format], Attestation: format, AppID: appID}
			if opt.Platform == "" {
				opt.Platform = "Android"
			}
			if format != "" {
				if caPath == "" {
					return errors.New("--attest needs --test-ca (a file from 'signet device test-ca')")
				}
				b, err := os.ReadFile(caPath)
				if err != nil {
					return err
				}
				if opt.TestCA, err = attesttest.LoadCA(b); err != nil {
					return err
				}
			}
			switch userAuth {
			case "biometric":
				opt.Android.UserAuthType = attest.AuthFingerprint
			case "credential":
				opt.Android.UserAuthType = attest.AuthPassword
			case "either":
				opt.Android.UserAuthType = attest.AuthFingerprint | attest.AuthPassword
			case "none":
				opt.Android.UserAuthType = -1
			default:
				return fmt.Errorf("--user-auth must be biometric, credential, either or none")
			}
			url := *serverURL
			if url == "" {
				url = "http://localhost:8080"
			}
			c := &device.Client{BaseURL: url}
			reg, err := c.RegisterDeviceKey(cmd.Context(), args[0], key, opt)
			if err != nil {
				return err
			}
			a := reg.Assurance
			fmt.Fprintf(cmd.OutOrStdout(), "Registered device key %s (%s).\nAttestation: %s, hardware %s, user verification %s, app %s, amr %s\n",
				reg.CredentialID, reg.Status, orNone(a.Format), orNone(a.HardwareLevel), a.UserVerification, orNone(a.AppID), strings.Join(a.AMR(), " "))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "./device-key.pem", "the device's P-256 private key (PEM, created mode 0600 when missing)")
	cmd.Flags().StringVar(&format, "attest", "", "test attestation: android-key or apple-appattest (default: none)")
	cmd.Flags().StringVar(&caPath, "test-ca", "", "test CA file from 'signet device test-ca' that issues the attestation")
	cmd.Flags().StringVar(&appID, "app-id", "", "App Attest TEAMID.bundle.id (apple-appattest)")
	cmd.Flags().StringVar(&userAuth, "user-auth", "biometric", "android-key: what the key requires per signature: biometric, credential, either or none")
	cmd.Flags().StringVar(&label, "label", "", "credential label")
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, _ := x509.MarshalECPrivateKey(k)
		return k, writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	}
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not a PEM key", path)
	}
	return x509.ParseECPrivateKey(blk.Bytes)
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
