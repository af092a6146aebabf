package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/device"
)

// activateWith is the common part of the activate commands: flags checked, the client made, the
// activation itself (do), the state file written and the status reported.
func (f *deviceFlags) activateWith(cmd *cobra.Command, environ []string, o activateOptions,
	do func(*device.Client, device.AppConfig) (*device.State, error)) error {
	if o.config == "" {
		o.config = envValue(environ, "SIGNET_DEVICE_CONFIG")
	}
	c, app, err := f.activationClient(o)
	if err != nil {
		return err
	}
	st, err := do(c, app)
	if err != nil {
		return err
	}
	if err := st.Save(f.statePath); err != nil {
		return err
	}
	c.Persist = func(s *device.State) error { return s.Save(f.statePath) }
	printActivation(cmd.Context(), cmd.OutOrStdout(), c, st)
	return nil
}

// activationFlags registers the flags of a new activation other than the OTP.
func activationFlags(c *cobra.Command, o *activateOptions) {
	c.Flags().StringVar(&o.pin, "pin", "", "PIN that protects the knowledge factor (required)")
	c.Flags().StringVar(&o.config, "config", "", "the application's mobile_sdk_config (or SIGNET_DEVICE_CONFIG)")
	c.Flags().StringVar(&o.name, "name", "signet device", "activation name")
	c.Flags().StringVar(&o.version, "version", "3.3", "protocol version: 3.3 or 3.2")
	c.Flags().StringVar(&o.platform, "platform", "Android", "platform: Android or iOS")
}

// newDeviceRecoverCmd activates with a recovery code and its PUK (PowerAuth 3.x, Activation via
// Recovery Code).
func newDeviceRecoverCmd(f *deviceFlags, environ []string) *cobra.Command {
	var o activateOptions
	var puk string
	c := &cobra.Command{
		Use:   "recover <recovery-code | R:recovery-code>",
		Short: "Activate this device with a recovery code and its PUK; replaces the activation the code came with",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.pin == "" || puk == "" {
				return errors.New("--pin and --puk are required")
			}
			return f.activateWith(cmd, environ, o, func(c *device.Client, app device.AppConfig) (*device.State, error) {
				st, err := c.ActivateWithRecoveryCode(cmd.Context(), app, args[0], puk, o.pin, device.ActivateOptions{Name: o.name})
				var pe *device.Error
				if errors.As(err, &pe) && pe.CurrentRecoveryPukIndex > 0 {
					return nil, fmt.Errorf("wrong PUK: use PUK number %d of the recovery code", pe.CurrentRecoveryPukIndex)
				}
				return st, err
			})
		},
	}
	activationFlags(c, &o)
	c.Flags().StringVar(&puk, "puk", "", "the recovery PUK: 10 digits, a dash after the fifth allowed (required)")
	return c
}

// newDeviceActivateCustomCmd activates with the bank's own credentials, which its activation hook checks.
func newDeviceActivateCustomCmd(f *deviceFlags, environ []string) *cobra.Command {
	var o activateOptions
	var attrs []string
	c := &cobra.Command{
		Use:   "activate-custom --attr name=value...",
		Short: "Activate this device with the bank's own credentials (the bank's activation hook checks them)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.pin == "" || len(attrs) == 0 {
				return errors.New("--pin and at least one --attr are required")
			}
			identity := map[string]string{}
			for _, a := range attrs {
				k, v, ok := strings.Cut(a, "=")
				if !ok || k == "" {
					return fmt.Errorf("--attr %q: want name=value", a)
				}
				identity[k] = v
			}
			return f.activateWith(cmd, environ, o, func(c *device.Client, app device.AppConfig) (*device.State, error) {
				return c.ActivateWithCustomCredentials(cmd.Context(), app, identity, o.pin, device.ActivateOptions{Name: o.name})
			})
		},
	}
	activationFlags(c, &o)
	c.Flags().StringArrayVar(&attrs, "attr", nil, "identity attribute name=value (repeatable)")
	return c
}

// newDeviceRecoveryCmd shows this activation's recovery code and confirms postcards.
func newDeviceRecoveryCmd(f *deviceFlags) *cobra.Command {
	recovery := &cobra.Command{Use: "recovery", Short: "Recovery code of this activation; confirm a recovery postcard"}
	var pin string
	show := &cobra.Command{
		Use:   "show",
		Short: "Unlock the vault and print the recovery code and PUK the server sent with this activation",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := f.load()
			if err != nil {
				return err
			}
			if pin == "" {
				return errors.New("--pin is required")
			}
			rd, err := c.RecoveryData(cmd.Context(), st, pin)
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
			st, c, err := f.load()
			if err != nil {
				return err
			}
			if pin == "" {
				return errors.New("--pin is required")
			}
			already, err := c.ConfirmRecoveryCode(cmd.Context(), st, pin, args[0])
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
		c.Flags().StringVar(&pin, "pin", "", "PIN (required)")
	}
	recovery.AddCommand(show, confirm)
	return recovery
}

// newDeviceUpgradeCmd asks for an activation upgrade (/pa/v3/upgrade/start, then commit).
func newDeviceUpgradeCmd(f *deviceFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "upgrade",
		Short: "Ask the server for an activation upgrade (/pa/v3/upgrade/start, then commit)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := f.load()
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
}
