package activation

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
	"github.com/signet-sca/signet/txsign"
)

// OperationData builds the PowerAuth operation data of a stored operation (PowerAuth 3.x, Operation Data
// Structure), always from the stored record so that what the device signs is bound to what the bank
// created (PSD2 RTS Art. 5 dynamic linking: amount and payee are in the signed data):
//
//	payment (an amount):  A1*A{amount}{currency}*{I{IBAN} | Q{account}}*T{payee name}[*N{text}]
//	login:                A2[*A{amount}{currency}][*{I|Q}{account}*T{payee name}][*N{text}]
//	anything else:        A0[*A{amount}{currency}][*{I|Q}{account}*T{payee name}][*N{text}]
//
// A login has neither amount nor payee as a rule, but the bank may give it either; then the device shows
// them (operationMessage) and so they are signed too.
//
// The amount is the stored canonical decimal ("100.00"), the account an IBAN (I) when it is one, else a
// free account identifier (Q); text fields are escaped (\*, \\, \n). The result is deterministic: the
// same operation always gives the same bytes, which authorize compares byte for byte.
func OperationData(op store.Operation) (string, error) {
	var d *powerauth.OperationData
	switch {
	case op.Type == "login":
		d = powerauth.NewOperationData(powerauth.TemplateLogin)
	case op.Amount != "" && op.Type == "payment":
		d = powerauth.NewOperationData(powerauth.TemplatePayment)
	default:
		d = powerauth.NewOperationData(powerauth.TemplateGeneric)
	}
	if op.Amount != "" {
		d.Amount(op.Amount, op.Currency)
	}
	if op.PayeeAccount != "" {
		if txsign.LooksLikeIBAN(op.PayeeAccount) && txsign.ValidateIBAN(op.PayeeAccount) == nil {
			d.IBAN(op.PayeeAccount, "")
		} else {
			d.Account(op.PayeeAccount)
		}
		if op.PayeeName != "" {
			d.Text(op.PayeeName)
		}
	}
	if op.Text != "" {
		d.Note(op.Text)
	}
	return d.Encode()
}

// operationTitle and operationMessage are what the mobile token and the offline QR code display.
func operationTitle(op store.Operation) string {
	switch op.Type {
	case "payment":
		return "Confirm payment"
	case "login":
		return "Confirm login"
	}
	return "Confirm " + strings.ReplaceAll(op.Type, "_", " ")
}

func operationMessage(op store.Operation) string {
	var b strings.Builder
	if op.Amount != "" {
		b.WriteString(op.Amount + " " + op.Currency)
	}
	if op.PayeeName != "" || op.PayeeAccount != "" {
		if b.Len() > 0 {
			b.WriteString(" to ")
		}
		b.WriteString(op.PayeeName)
		if op.PayeeAccount != "" {
			b.WriteString(" (" + op.PayeeAccount + ")")
		}
	}
	if op.Text != "" {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(op.Text)
	}
	return b.String()
}

// offlineNonce is the {nonce} of an operation's offline QR code for one activation:
// SHA-256("signet/powerauth/offline-nonce" ‖ LP(op id) ‖ LP(op nonce) ‖ LP(activation id))[:16], LP a
// 4-byte big-endian length prefix. The operation nonce is random per operation, so the QR nonce is fresh
// per operation and activation, and the server re-derives it at verification without storing anything.
func offlineNonce(op store.Operation, activationID string) []byte {
	h := sha256.New()
	h.Write([]byte("signet/powerauth/offline-nonce"))
	var l [4]byte
	for _, s := range []string{op.ID, op.Nonce, activationID} {
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)[:16]
}
