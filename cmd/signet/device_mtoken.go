package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/signet-sca/signet/device"
)

// newDeviceUserInfoCmd fetches the user's claims (/pa/v3/user/info).
func newDeviceUserInfoCmd(f *deviceFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "user-info",
		Short: "Fetch the user's claims (/pa/v3/user/info, end-to-end encrypted)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := f.load()
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
}

// newDevicePushRegisterCmd registers the phone's push token.
func newDevicePushRegisterCmd(f *deviceFlags) *cobra.Command {
	var platform string
	c := &cobra.Command{
		Use:   "push-register <platform-token>",
		Short: "Register the phone's push token (FCM, APNs, HMS) so that new operations are pushed to it",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := f.load()
			if err != nil {
				return err
			}
			if err := c.RegisterPushToken(cmd.Context(), st, platform, args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "Push token registered.")
			return nil
		},
	}
	c.Flags().StringVar(&platform, "platform", "android", "android, ios or huawei (or fcm, apns, hms)")
	return c
}

// newDeviceInboxCmd lists and reads the messages the bank posted to the user.
func newDeviceInboxCmd(f *deviceFlags) *cobra.Command {
	box := &cobra.Command{Use: "inbox", Short: "The user's inbox: messages the bank posted"}
	var unreadOnly bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the newest messages (and the unread count)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, c, err := f.load()
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
	list.Flags().BoolVar(&unreadOnly, "unread", false, "only unread messages")
	read := &cobra.Command{
		Use:   "read <message-id | --all>",
		Short: "Show a message and mark it read, or mark every message read (--all)",
		Args:  withUsage(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			all, _ := cmd.Flags().GetBool("all")
			if all == (len(args) == 1) {
				return errors.New("give a message id or --all")
			}
			st, c, err := f.load()
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
	read.Flags().Bool("all", false, "mark every message read")
	box.AddCommand(list, read)
	return box
}

// newDeviceHistoryCmd lists the user's operations of every status.
func newDeviceHistoryCmd(f *deviceFlags) *cobra.Command {
	var pin string
	c := &cobra.Command{
		Use:   "history",
		Short: "List the user's operations of every status (signed with possession + knowledge)",
		Args:  withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pin == "" {
				return errors.New("--pin is required")
			}
			st, c, err := f.load()
			if err != nil {
				return err
			}
			list, err := c.History(cmd.Context(), st, pin)
			if err != nil {
				return explainRefusal(cmd.Context(), c, st, err)
			}
			return printHistory(cmd.OutOrStdout(), list)
		},
	}
	c.Flags().StringVar(&pin, "pin", "", "PIN (required)")
	return c
}

// newDeviceClaimCmd claims an operation opened from a QR code or a deep link.
func newDeviceClaimCmd(f *deviceFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "claim <operation-id>",
		Short: "Claim an operation opened from a QR code or a deep link, so that only this activation decides it",
		Args:  withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, c, err := f.load()
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
