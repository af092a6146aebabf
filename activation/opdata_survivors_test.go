package activation

import (
	"context"
	"testing"

	"golang.org/x/text/language"

	"github.com/signet-sca/signet/txsign"
)

// TestOperationMessage shows the message the mobile token lists under an operation's title (mobile-token
// API formData.message; the same text is the offline QR code's message): the amount, " to " only between an
// amount and a payee, the payee's name with its account in parentheses, and the note on a line of its own
// only when something precedes it. Nothing dangles: no leading " to " or newline, no " to " without a payee.
// Every operation but a login has a payee (txsign.NewOperation), so an amount without one is a login's.
func TestOperationMessage(t *testing.T) {
	p, st := newActivated(t, 0)
	ctx := context.Background()
	const iban = "DE89370400440532013000"
	for _, tt := range []struct {
		name string
		op   txsign.NewOperation
		want string
	}{
		{"amount only", txsign.NewOperation{Type: "login", Amount: "500.00", Currency: "EUR"}, "500.00 EUR"},
		{"amount and note", txsign.NewOperation{Type: "login", Amount: "500.00", Currency: "EUR", Text: "new limit"},
			"500.00 EUR\nnew limit"},
		{"payee only", txsign.NewOperation{Type: "beneficiary_add", PayeeAccount: iban, PayeeName: "Landlord"},
			"Landlord (" + iban + ")"},
		{"note only", txsign.NewOperation{Type: "login", Text: "Sign in to the web bank"}, "Sign in to the web bank"},
		{"everything", txsign.NewOperation{Type: "payment", Amount: "100.00", Currency: "EUR", PayeeAccount: iban,
			PayeeName: "Landlord", Text: "rent"}, "100.00 EUR to Landlord (" + iban + ")\nrent"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.op
			n.UserID = p.user.ID
			op, _, err := p.ops.Create(ctx, "bank", n)
			if err != nil {
				t.Fatal(err)
			}
			list, err := p.s.ListOperations(ctx, TokenAuth{Activation: p.cred(t, st.ActivationID)}, language.English)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range list {
				if m.ID == op.ID {
					if m.FormData.Message != tt.want {
						t.Fatalf("message %q, want %q", m.FormData.Message, tt.want)
					}
					return
				}
			}
			t.Fatalf("operation %s not listed", op.ID)
		})
	}
}
