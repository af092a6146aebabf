package loadbench

import (
	"context"
	"fmt"
	"sync"

	"github.com/signet-sca/signet/device"
)

// paUser is a customer with an ACTIVE PowerAuth activation, driven through
// the Go device SDK exactly as the simulator does.
type paUser struct {
	c      *client
	userID string
	dev    *device.Client
	state  *device.State
}

const benchPIN = "2580"

// application is created once per run and shared by the PowerAuth users.
type application struct {
	once sync.Once
	id   string
	cfg  device.AppConfig
	err  error
}

func (c *client) newPowerAuthUser(ctx context.Context, app *application, name string) (*paUser, error) {
	app.once.Do(func() {
		var a struct {
			ID              string `json:"id"`
			MobileSDKConfig string `json:"mobile_sdk_config"`
		}
		if app.err = c.call(ctx, "POST", c.cfg.Server+"/v1/applications", true, map[string]string{"name": "signet bench"}, &a, nil); app.err != nil {
			return
		}
		app.id = a.ID
		app.cfg, app.err = device.ParseAppConfig(a.MobileSDKConfig)
	})
	if app.err != nil {
		return nil, fmt.Errorf("application: %w", app.err)
	}
	var u struct{ ID string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/users", true, map[string]string{"external_id": "bench-" + name}, &u, nil); err != nil {
		return nil, err
	}
	var act struct {
		ActivationID   string `json:"id"`
		ActivationCode string `json:"activation_code"`
	}
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/activations", true, map[string]string{"user_id": u.ID, "application_id": app.id},
		&act, nil); err != nil {
		return nil, err
	}
	c.registered(act.ActivationID)
	// The phone's PIN stretching is not the server's work: done once per
	// virtual user, it does not take the cores the server is measured on.
	dev := &device.Client{BaseURL: c.cfg.Server, HTTP: c.http, Platform: "Android", DeviceInfo: "signet bench", RememberPIN: true}
	st, err := dev.Activate(ctx, app.cfg, act.ActivationCode, benchPIN, device.ActivateOptions{Name: "bench phone"})
	if err != nil {
		return nil, fmt.Errorf("activate: %w", err)
	}
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/activations/"+act.ActivationID+"/commit", true, nil, nil, nil); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return &paUser{c: c, userID: u.ID, dev: dev, state: st}, nil
}

// approveOnce is the whole mobile flow: the bank creates an operation, the app
// reads its detail with a MAC token and approves it with a possession +
// knowledge (PIN) PowerAuth signature over the operation data.
func (u *paUser) approveOnce(ctx context.Context) error {
	_, err := u.approve(ctx)
	return err
}

// approve is approveOnce, returning the operation id as soon as it exists.
func (u *paUser) approve(ctx context.Context) (string, error) {
	detail, err := u.prepare(ctx)
	if err != nil {
		return detail.ID, err
	}
	return detail.ID, u.sign(ctx, detail)
}

// prepare is the flow up to the signature: the bank creates the operation and
// the app reads its detail with a MAC token.
func (u *paUser) prepare(ctx context.Context) (device.Operation, error) {
	c := u.c
	var op struct{ ID string }
	if err := c.call(ctx, "POST", c.cfg.Server+"/v1/operations", true, map[string]any{"user_id": u.userID, "type": "payment",
		"payee": map[string]string{"account": benchAccount, "name": "Bench Payee"}, "amount": benchAmount, "currency": benchCurrency},
		&op, nil); err != nil {
		return device.Operation{}, fmt.Errorf("create operation: %w", err)
	}
	detail, err := u.dev.OperationDetail(ctx, u.state, op.ID)
	if err != nil {
		return device.Operation{ID: op.ID}, fmt.Errorf("operation detail: %w", err)
	}
	return detail, nil
}

// sign approves a prepared operation with a possession + knowledge signature.
func (u *paUser) sign(ctx context.Context, detail device.Operation) error {
	if err := u.dev.Approve(ctx, u.state, detail, benchPIN); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	return nil
}
