package activation

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// Application statuses.
const (
	AppActive = "ACTIVE"
)

// CreateApplication creates a PowerAuth application (PowerAuth 3.x server createApplication): a random
// 16-byte APPLICATION_KEY and APPLICATION_SECRET and a P-256 master key pair whose private key is sealed
// under the KEK.
func (s *Service) CreateApplication(ctx context.Context, actor, name string) (store.Application, error) {
	name = strings.TrimSpace(name)
	var c fault.Collector
	c.Check(name != "", "name", "is required")
	c.Check(utf8.RuneCountInString(name) <= 100, "name", "must be at most 100 characters")
	c.Check(strings.IndexFunc(name, unicode.IsControl) < 0 && utf8.ValidString(name), "name", "must not contain control characters")
	if err := c.Err(); err != nil {
		return store.Application{}, err
	}
	master, err := powerauth.GeneratePrivateKey()
	if err != nil {
		return store.Application{}, err
	}
	secret, err := powerauth.NewApplicationSecret()
	if err != nil {
		return store.Application{}, err
	}
	var key [16]byte
	if _, err := rand.Read(key[:]); err != nil {
		return store.Application{}, err
	}
	app := store.Application{ID: uuid.NewString(), Name: name, AppKey: base64.StdEncoding.EncodeToString(key[:]),
		AppSecret: string(secret), MasterPublicKey: master.PublicKey().Bytes(), Status: AppActive, CreatedAt: s.now()}
	if app.MasterPrivateKey, err = s.sealer.Seal(master.Bytes(), []byte(adMasterKey+app.ID)); err != nil {
		return store.Application{}, err
	}
	if err := s.store.CreateApplication(ctx, &app); err != nil {
		return store.Application{}, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "powerauth.application.create", Outcome: audit.Success, Actor: actor,
		Evidence: map[string]any{"application_id": app.ID, "name": app.Name, "application_key": app.AppKey,
			"master_public_key": base64.StdEncoding.EncodeToString(app.MasterPublicKey)}}); err != nil {
		return store.Application{}, err
	}
	return app, nil
}

// ListApplications lists every application, oldest first.
func (s *Service) ListApplications(ctx context.Context) ([]store.Application, error) {
	return s.store.ListApplications(ctx)
}

// GetApplication returns an application by id.
func (s *Service) GetApplication(ctx context.Context, id string) (store.Application, error) {
	if err := validID("id", id); err != nil {
		return store.Application{}, err
	}
	app, err := s.store.GetApplication(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return app, fault.New(fault.ErrNotFound, "application")
	}
	return app, err
}

// masterKey opens the application's KEY_SERVER_MASTER_PRIVATE.
func (s *Service) masterKey(app store.Application) (*powerauth.PrivateKey, error) {
	raw, err := s.sealer.Open(app.MasterPrivateKey, []byte(adMasterKey+app.ID))
	if err != nil {
		return nil, fmt.Errorf("activation: open master key of application %s: %w", app.ID, err)
	}
	return powerauth.ParsePrivateKey(raw)
}

// appByKey returns the ACTIVE application with the header's application key.
func (s *Service) appByKey(ctx context.Context, appKey string) (store.Application, error) {
	app, err := s.store.GetApplicationByKey(ctx, appKey)
	if err != nil {
		return app, err
	}
	if app.Status != AppActive {
		return app, fmt.Errorf("activation: application %s is %s: %w", app.ID, app.Status, store.ErrNotFound)
	}
	return app, nil
}

// EncodeSDKConfig renders the configuration string of an application in the PowerAuth mobile SDK's own
// binary format (SessionSetup::saveConfiguration, powerauth.SDKConfig): the only form SDK 1.8+ reads.
func EncodeSDKConfig(app store.Application) string {
	key, _ := base64.StdEncoding.DecodeString(app.AppKey)
	secret, _ := base64.StdEncoding.DecodeString(app.AppSecret)
	return powerauth.SDKConfig{ApplicationKey: key, ApplicationSecret: secret, MasterPublicKey: app.MasterPublicKey}.Encode()
}

func validID(field, id string) error {
	if !store.ValidID(id) {
		return fault.Invalid(field, "is not a valid identifier")
	}
	return nil
}
