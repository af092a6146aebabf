package sqlstore

import "github.com/signet-sca/signet/store"

// Row structs declare the tables (table.go): each is its table's columns, in
// the order the hand-written statements use, and its gorm model.
// TestTablesMatchMigrations holds them equal to the migrated tables of
// migrations/{sqlite,postgres}. They never leave this package; to*Row and
// record convert them to and from store records and apply the normal forms
// (UTC µs times, nil for empty bytes).

// The tables with statements written by hand (reads.go, alongside.go,
// events.go, approval.go, signer.go); gorm derives its own statements from the row structs.
var (
	credentialsTable  = declare[credentialRow]()
	operationsTable   = declare[operationRow]()
	auditTable        = declare[auditRow]()
	usersTable        = declare[userRow]()
	applicationsTable = declare[applicationRow]()
)

type userRow struct {
	ID               string `gorm:"column:id;primaryKey"`
	ExternalID       string `gorm:"column:external_id"`
	DisplayName      string `gorm:"column:display_name"`
	WebAuthnID       []byte `gorm:"column:webauthn_id"`
	PasscodeVerifier []byte `gorm:"column:passcode_verifier"`
	PasscodeFailed   int    `gorm:"column:passcode_failed"`
	PasscodeLocked   bool   `gorm:"column:passcode_locked"`
	CreatedAt        dbTime `gorm:"column:created_at"`
	UpdatedAt        dbTime `gorm:"column:updated_at"`
	Version          int64  `gorm:"column:version"`
}

func (userRow) TableName() string { return "users" }

func toUserRow(u *store.User) userRow {
	return userRow{
		ID:               u.ID,
		ExternalID:       u.ExternalID,
		DisplayName:      u.DisplayName,
		WebAuthnID:       blob(u.WebAuthnID),
		PasscodeVerifier: blob(u.PasscodeVerifier),
		PasscodeFailed:   u.PasscodeFailed,
		PasscodeLocked:   u.PasscodeLocked,
		CreatedAt:        newTime(u.CreatedAt),
		UpdatedAt:        newTime(u.UpdatedAt),
		Version:          u.Version,
	}
}

func (r userRow) record() store.User {
	return store.User{
		ID:               r.ID,
		ExternalID:       r.ExternalID,
		DisplayName:      r.DisplayName,
		WebAuthnID:       blob(r.WebAuthnID),
		PasscodeVerifier: blob(r.PasscodeVerifier),
		PasscodeFailed:   r.PasscodeFailed,
		PasscodeLocked:   r.PasscodeLocked,
		CreatedAt:        r.CreatedAt.time(),
		UpdatedAt:        r.UpdatedAt.time(),
		Version:          r.Version,
	}
}

type credentialRow struct {
	ID                string `gorm:"column:id;primaryKey"`
	UserID            string `gorm:"column:user_id"`
	Kind              string `gorm:"column:kind"`
	Status            string `gorm:"column:status"`
	BlockReason       string `gorm:"column:block_reason"`
	FailedAttempts    int    `gorm:"column:failed_attempts"`
	MaxFailedAttempts int    `gorm:"column:max_failed_attempts"`
	Label             string `gorm:"column:label"`
	LookupKey         string `gorm:"column:lookup_key"`
	PublicKey         []byte `gorm:"column:public_key"`
	Counter           int64  `gorm:"column:counter"`
	Device            []byte `gorm:"column:device"`
	Data              []byte `gorm:"column:data"`
	Secret            []byte `gorm:"column:secret"`
	CreatedAt         dbTime `gorm:"column:created_at"`
	ActivatedAt       dbTime `gorm:"column:activated_at"`
	LastUsedAt        dbTime `gorm:"column:last_used_at"`
	RemovedAt         dbTime `gorm:"column:removed_at"`
	ExpiresAt         dbTime `gorm:"column:expires_at"`
	Version           int64  `gorm:"column:version"`
}

func (credentialRow) TableName() string { return "credentials" }

func toCredentialRow(c *store.Credential) credentialRow {
	return credentialRow{
		ID:                c.ID,
		UserID:            c.UserID,
		Kind:              string(c.Kind),
		Status:            string(c.Status),
		BlockReason:       string(c.BlockReason),
		FailedAttempts:    c.FailedAttempts,
		MaxFailedAttempts: c.MaxFailedAttempts,
		Label:             c.Label,
		LookupKey:         c.LookupKey,
		PublicKey:         blob(c.PublicKey),
		Counter:           c.Counter,
		Device:            blob(c.Device),
		Data:              blob(c.Data),
		Secret:            blob(c.Secret),
		CreatedAt:         newTime(c.CreatedAt),
		ActivatedAt:       newTimePtr(c.ActivatedAt),
		LastUsedAt:        newTimePtr(c.LastUsedAt),
		RemovedAt:         newTimePtr(c.RemovedAt),
		ExpiresAt:         newTimePtr(c.ExpiresAt),
		Version:           c.Version,
	}
}

func (r credentialRow) record() store.Credential {
	return store.Credential{
		ID:                r.ID,
		UserID:            r.UserID,
		Kind:              store.CredentialKind(r.Kind),
		Status:            store.Status(r.Status),
		BlockReason:       store.BlockReason(r.BlockReason),
		FailedAttempts:    r.FailedAttempts,
		MaxFailedAttempts: r.MaxFailedAttempts,
		Label:             r.Label,
		LookupKey:         r.LookupKey,
		PublicKey:         blob(r.PublicKey),
		Counter:           r.Counter,
		Device:            blob(r.Device),
		Data:              blob(r.Data),
		Secret:            blob(r.Secret),
		CreatedAt:         r.CreatedAt.time(),
		ActivatedAt:       r.ActivatedAt.ptr(),
		LastUsedAt:        r.LastUsedAt.ptr(),
		RemovedAt:         r.RemovedAt.ptr(),
		ExpiresAt:         r.ExpiresAt.ptr(),
		Version:           r.Version,
	}
}

type operationRow struct {
	ID                   string `gorm:"column:id;primaryKey"`
	UserID               string `gorm:"column:user_id"`
	Type                 string `gorm:"column:type"`
	PayeeAccount         string `gorm:"column:payee_account"`
	PayeeName            string `gorm:"column:payee_name"`
	Amount               string `gorm:"column:amount"`
	Currency             string `gorm:"column:currency"`
	Text                 string `gorm:"column:text"`
	Nonce                string `gorm:"column:nonce"`
	DL                   []byte `gorm:"column:dl"`
	Status               string `gorm:"column:status"`
	Factors              string `gorm:"column:factors"`
	CallbackURL          string `gorm:"column:callback_url"`
	IdempotencyKey       string `gorm:"column:idempotency_key"`
	FailedAttempts       int    `gorm:"column:failed_attempts"`
	MaxFailedAttempts    int    `gorm:"column:max_failed_attempts"`
	Data                 []byte `gorm:"column:data"`
	ApprovedCredentialID string `gorm:"column:approved_credential_id"`
	ApprovedAt           dbTime `gorm:"column:approved_at"`
	TokenJTI             string `gorm:"column:token_jti"`
	Token                string `gorm:"column:token"`
	TokenExpiresAt       dbTime `gorm:"column:token_expires_at"`
	ExpiresAt            dbTime `gorm:"column:expires_at"`
	CreatedAt            dbTime `gorm:"column:created_at"`
	UpdatedAt            dbTime `gorm:"column:updated_at"`
	Version              int64  `gorm:"column:version"`
}

func (operationRow) TableName() string { return "operations" }

func toOperationRow(o *store.Operation) operationRow {
	return operationRow{
		ID:                   o.ID,
		UserID:               o.UserID,
		Type:                 o.Type,
		PayeeAccount:         o.PayeeAccount,
		PayeeName:            o.PayeeName,
		Amount:               o.Amount,
		Currency:             o.Currency,
		Text:                 o.Text,
		Nonce:                o.Nonce,
		DL:                   blob(o.DL),
		Status:               string(o.Status),
		Factors:              o.Factors,
		CallbackURL:          o.CallbackURL,
		IdempotencyKey:       o.IdempotencyKey,
		FailedAttempts:       o.FailedAttempts,
		MaxFailedAttempts:    o.MaxFailedAttempts,
		Data:                 blob(o.Data),
		ApprovedCredentialID: o.ApprovedCredentialID,
		ApprovedAt:           newTimePtr(o.ApprovedAt),
		TokenJTI:             o.TokenJTI,
		Token:                o.Token,
		TokenExpiresAt:       newTimePtr(o.TokenExpiresAt),
		ExpiresAt:            newTime(o.ExpiresAt),
		CreatedAt:            newTime(o.CreatedAt),
		UpdatedAt:            newTime(o.UpdatedAt),
		Version:              o.Version,
	}
}

func (r operationRow) record() store.Operation {
	return store.Operation{
		ID:                   r.ID,
		UserID:               r.UserID,
		Type:                 r.Type,
		PayeeAccount:         r.PayeeAccount,
		PayeeName:            r.PayeeName,
		Amount:               r.Amount,
		Currency:             r.Currency,
		Text:                 r.Text,
		Nonce:                r.Nonce,
		DL:                   blob(r.DL),
		Status:               store.OperationStatus(r.Status),
		Factors:              r.Factors,
		CallbackURL:          r.CallbackURL,
		IdempotencyKey:       r.IdempotencyKey,
		FailedAttempts:       r.FailedAttempts,
		MaxFailedAttempts:    r.MaxFailedAttempts,
		Data:                 blob(r.Data),
		ApprovedCredentialID: r.ApprovedCredentialID,
		ApprovedAt:           r.ApprovedAt.ptr(),
		TokenJTI:             r.TokenJTI,
		Token:                r.Token,
		TokenExpiresAt:       r.TokenExpiresAt.ptr(),
		ExpiresAt:            r.ExpiresAt.time(),
		CreatedAt:            r.CreatedAt.time(),
		UpdatedAt:            r.UpdatedAt.time(),
		Version:              r.Version,
	}
}

type auditRow struct {
	Seq          int64  `gorm:"column:seq;primaryKey;autoIncrement"`
	ID           string `gorm:"column:id"`
	Time         dbTime `gorm:"column:time"`
	Type         string `gorm:"column:type"`
	Outcome      string `gorm:"column:outcome"`
	Reason       string `gorm:"column:reason"`
	Actor        string `gorm:"column:actor"`
	UserID       string `gorm:"column:user_id"`
	OperationID  string `gorm:"column:operation_id"`
	CredentialID string `gorm:"column:credential_id"`
	Evidence     []byte `gorm:"column:evidence"`
}

func (auditRow) TableName() string { return "audit_events" }

func toAuditRow(e *store.AuditEvent) auditRow {
	return auditRow{
		ID:           e.ID,
		Time:         newTime(e.Time),
		Type:         e.Type,
		Outcome:      e.Outcome,
		Reason:       e.Reason,
		Actor:        e.Actor,
		UserID:       e.UserID,
		OperationID:  e.OperationID,
		CredentialID: e.CredentialID,
		Evidence:     blob(e.Evidence),
	}
}

func (r auditRow) record() store.AuditEvent {
	return store.AuditEvent{
		Seq:          r.Seq,
		ID:           r.ID,
		Time:         r.Time.time(),
		Type:         r.Type,
		Outcome:      r.Outcome,
		Reason:       r.Reason,
		Actor:        r.Actor,
		UserID:       r.UserID,
		OperationID:  r.OperationID,
		CredentialID: r.CredentialID,
		Evidence:     blob(r.Evidence),
	}
}

type signingKeyRow struct {
	ID           string `gorm:"column:id;primaryKey"`
	State        string `gorm:"column:state"`
	Algorithm    string `gorm:"column:algorithm"`
	PublicKey    []byte `gorm:"column:public_key"`
	PrivateKey   []byte `gorm:"column:private_key"`
	CreatedAt    dbTime `gorm:"column:created_at"`
	ActivatedAt  dbTime `gorm:"column:activated_at"`
	RetiredAt    dbTime `gorm:"column:retired_at"`
	PublishUntil dbTime `gorm:"column:publish_until"`
	Version      int64  `gorm:"column:version"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

func toSigningKeyRow(k *store.SigningKey) signingKeyRow {
	return signingKeyRow{
		ID:           k.ID,
		State:        string(k.State),
		Algorithm:    k.Algorithm,
		PublicKey:    blob(k.PublicKey),
		PrivateKey:   blob(k.PrivateKey),
		CreatedAt:    newTime(k.CreatedAt),
		ActivatedAt:  newTimePtr(k.ActivatedAt),
		RetiredAt:    newTimePtr(k.RetiredAt),
		PublishUntil: newTimePtr(k.PublishUntil),
		Version:      k.Version,
	}
}

func (r signingKeyRow) record() store.SigningKey {
	return store.SigningKey{
		ID:           r.ID,
		State:        store.SigningKeyState(r.State),
		Algorithm:    r.Algorithm,
		PublicKey:    blob(r.PublicKey),
		PrivateKey:   blob(r.PrivateKey),
		CreatedAt:    r.CreatedAt.time(),
		ActivatedAt:  r.ActivatedAt.ptr(),
		RetiredAt:    r.RetiredAt.ptr(),
		PublishUntil: r.PublishUntil.ptr(),
		Version:      r.Version,
	}
}

type ceremonyRow struct {
	ID          string `gorm:"column:id;primaryKey"`
	Kind        string `gorm:"column:kind"`
	LookupKey   string `gorm:"column:lookup_key"`
	UserID      string `gorm:"column:user_id"`
	OperationID string `gorm:"column:operation_id"`
	Data        []byte `gorm:"column:data"`
	Attempts    int    `gorm:"column:attempts"`
	ExpiresAt   dbTime `gorm:"column:expires_at"`
	CreatedAt   dbTime `gorm:"column:created_at"`
	ConsumedAt  dbTime `gorm:"column:consumed_at"`
	Version     int64  `gorm:"column:version"`
}

func (ceremonyRow) TableName() string { return "ceremonies" }

func toCeremonyRow(c *store.Ceremony) ceremonyRow {
	return ceremonyRow{
		ID:          c.ID,
		Kind:        c.Kind,
		LookupKey:   c.LookupKey,
		UserID:      c.UserID,
		OperationID: c.OperationID,
		Data:        blob(c.Data),
		Attempts:    c.Attempts,
		ExpiresAt:   newTime(c.ExpiresAt),
		CreatedAt:   newTime(c.CreatedAt),
		ConsumedAt:  newTimePtr(c.ConsumedAt),
		Version:     c.Version,
	}
}

func (r ceremonyRow) record() store.Ceremony {
	return store.Ceremony{
		ID:          r.ID,
		Kind:        r.Kind,
		LookupKey:   r.LookupKey,
		UserID:      r.UserID,
		OperationID: r.OperationID,
		Data:        blob(r.Data),
		Attempts:    r.Attempts,
		ExpiresAt:   r.ExpiresAt.time(),
		CreatedAt:   r.CreatedAt.time(),
		ConsumedAt:  r.ConsumedAt.ptr(),
		Version:     r.Version,
	}
}

type outboxRow struct {
	ID            string `gorm:"column:id;primaryKey"`
	Endpoint      string `gorm:"column:endpoint"`
	Type          string `gorm:"column:type"`
	Payload       []byte `gorm:"column:payload"`
	Attempts      int    `gorm:"column:attempts"`
	NextAttemptAt dbTime `gorm:"column:next_attempt_at"`
	DeliveredAt   dbTime `gorm:"column:delivered_at"`
	LastError     string `gorm:"column:last_error"`
	CreatedAt     dbTime `gorm:"column:created_at"`
	Version       int64  `gorm:"column:version"`
}

func (outboxRow) TableName() string { return "outbox_events" }

func toOutboxRow(e *store.OutboxEvent) outboxRow {
	return outboxRow{
		ID:            e.ID,
		Endpoint:      e.Endpoint,
		Type:          e.Type,
		Payload:       blob(e.Payload),
		Attempts:      e.Attempts,
		NextAttemptAt: newTime(e.NextAttemptAt),
		DeliveredAt:   newTimePtr(e.DeliveredAt),
		LastError:     e.LastError,
		CreatedAt:     newTime(e.CreatedAt),
		Version:       e.Version,
	}
}

func (r outboxRow) record() store.OutboxEvent {
	return store.OutboxEvent{
		ID:            r.ID,
		Endpoint:      r.Endpoint,
		Type:          r.Type,
		Payload:       blob(r.Payload),
		Attempts:      r.Attempts,
		NextAttemptAt: r.NextAttemptAt.time(),
		DeliveredAt:   r.DeliveredAt.ptr(),
		LastError:     r.LastError,
		CreatedAt:     r.CreatedAt.time(),
		Version:       r.Version,
	}
}

type applicationRow struct {
	ID               string `gorm:"column:id;primaryKey"`
	Name             string `gorm:"column:name"`
	AppKey           string `gorm:"column:app_key"`
	AppSecret        string `gorm:"column:app_secret"`
	MasterPrivateKey []byte `gorm:"column:master_private_key"`
	MasterPublicKey  []byte `gorm:"column:master_public_key"`
	Status           string `gorm:"column:status"`
	RecoveryEnabled  bool   `gorm:"column:recovery_enabled"`
	PostcardPrivate  []byte `gorm:"column:postcard_private_key"`
	PostcardPublic   []byte `gorm:"column:postcard_public_key"`
	PrinterPublic    []byte `gorm:"column:printer_public_key"`
	CreatedAt        dbTime `gorm:"column:created_at"`
	Version          int64  `gorm:"column:version"`
}

func (applicationRow) TableName() string { return "applications" }

func toApplicationRow(a *store.Application) applicationRow {
	return applicationRow{
		ID:               a.ID,
		Name:             a.Name,
		AppKey:           a.AppKey,
		AppSecret:        a.AppSecret,
		MasterPrivateKey: blob(a.MasterPrivateKey),
		MasterPublicKey:  blob(a.MasterPublicKey),
		Status:           a.Status,
		RecoveryEnabled:  a.RecoveryEnabled,
		PostcardPrivate:  blob(a.PostcardPrivateKey),
		PostcardPublic:   blob(a.PostcardPublicKey),
		PrinterPublic:    blob(a.PrinterPublicKey),
		CreatedAt:        newTime(a.CreatedAt),
		Version:          a.Version,
	}
}

func (r applicationRow) record() store.Application {
	return store.Application{
		ID:                 r.ID,
		Name:               r.Name,
		AppKey:             r.AppKey,
		AppSecret:          r.AppSecret,
		MasterPrivateKey:   blob(r.MasterPrivateKey),
		MasterPublicKey:    blob(r.MasterPublicKey),
		Status:             r.Status,
		RecoveryEnabled:    r.RecoveryEnabled,
		PostcardPrivateKey: blob(r.PostcardPrivate),
		PostcardPublicKey:  blob(r.PostcardPublic),
		PrinterPublicKey:   blob(r.PrinterPublic),
		CreatedAt:          r.CreatedAt.time(),
		Version:            r.Version,
	}
}

type recoveryCodeRow struct {
	ID                string `gorm:"column:id;primaryKey"`
	ApplicationID     string `gorm:"column:application_id"`
	UserID            string `gorm:"column:user_id"`
	ActivationID      string `gorm:"column:activation_id"`
	LookupKey         string `gorm:"column:lookup_key"`
	CodeMasked        string `gorm:"column:code_masked"`
	Status            string `gorm:"column:status"`
	FailedAttempts    int    `gorm:"column:failed_attempts"`
	MaxFailedAttempts int    `gorm:"column:max_failed_attempts"`
	PUKs              []byte `gorm:"column:puks"`
	Secret            []byte `gorm:"column:secret"`
	CreatedAt         dbTime `gorm:"column:created_at"`
	UpdatedAt         dbTime `gorm:"column:updated_at"`
	Version           int64  `gorm:"column:version"`
}

func (recoveryCodeRow) TableName() string { return "recovery_codes" }

func toRecoveryCodeRow(r *store.RecoveryCode) recoveryCodeRow {
	return recoveryCodeRow{ID: r.ID, ApplicationID: r.ApplicationID, UserID: r.UserID, ActivationID: r.ActivationID,
		LookupKey: r.LookupKey, CodeMasked: r.CodeMasked, Status: r.Status, FailedAttempts: r.FailedAttempts,
		MaxFailedAttempts: r.MaxFailedAttempts, PUKs: blob(r.PUKs), Secret: blob(r.Secret),
		CreatedAt: newTime(r.CreatedAt), UpdatedAt: newTime(r.UpdatedAt), Version: r.Version}
}

func (r recoveryCodeRow) record() store.RecoveryCode {
	return store.RecoveryCode{ID: r.ID, ApplicationID: r.ApplicationID, UserID: r.UserID, ActivationID: r.ActivationID,
		LookupKey: r.LookupKey, CodeMasked: r.CodeMasked, Status: r.Status, FailedAttempts: r.FailedAttempts,
		MaxFailedAttempts: r.MaxFailedAttempts, PUKs: blob(r.PUKs), Secret: blob(r.Secret),
		CreatedAt: r.CreatedAt.time(), UpdatedAt: r.UpdatedAt.time(), Version: r.Version}
}
