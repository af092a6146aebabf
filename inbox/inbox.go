package inbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet-sca/signet/audit"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/store"
)

// Store is the part of store.Store the inbox uses.
type Store interface {
	CreateInboxMessage(ctx context.Context, m *store.InboxMessage) error
	GetInboxMessage(ctx context.Context, userID, id string) (store.InboxMessage, error)
	ListInbox(ctx context.Context, f store.InboxFilter) ([]store.InboxMessage, error)
	CountUnreadInbox(ctx context.Context, userID string) (int64, error)
	MarkInboxRead(ctx context.Context, userID, id string, at time.Time) (bool, error)
	MarkAllInboxRead(ctx context.Context, userID string, at time.Time) (int64, error)
}

// Limits of a message, and of a page.
const (
	MaxSubjectRunes = 255
	MaxSummaryRunes = 1024
	MaxBodyBytes    = 64 << 10
	MaxPageSize     = 100
)

// Content types, as the SDKs name them (InboxContentType, WMTInboxContentType).
const (
	TypeText = "text"
	TypeHTML = "html"
)

// Observer learns of each new message (notify.Observer pushes it to the user's phones). It must not block.
type Observer interface {
	InboxMessagePosted(ctx context.Context, m store.InboxMessage)
}

// Service is the inbox service.
type Service struct {
	store     Store
	audit     *audit.Log
	now       func() time.Time
	observers []Observer
}

// Observe adds an observer of new messages; call it before the service is used.
func (s *Service) Observe(o Observer) { s.observers = append(s.observers, o) }

// New returns the service; now nil means time.Now.
func New(st Store, a *audit.Log, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, audit: a, now: now}
}

// NewMessage is what the bank posts.
type NewMessage struct {
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Summary string `json:"summary"`
	Body    string `json:"body"`
}

// Validate checks a new message: type text (default) or html, a subject of 1 to 255 characters, a summary of at
// most 1024 and a body of at most 64 KiB, all valid UTF-8 without NUL.
func (n *NewMessage) Validate() error {
	var c fault.Collector
	if n.Type == "" {
		n.Type = TypeText
	}
	c.Check(n.Type == TypeText || n.Type == TypeHTML, "type", "must be text or html")
	text := func(field, v string, ok bool, msg string) {
		c.Check(ok && utf8.ValidString(v) && !strings.ContainsRune(v, 0), field, "%s", msg)
	}
	text("subject", n.Subject, strings.TrimSpace(n.Subject) != "" && utf8.RuneCountInString(n.Subject) <= MaxSubjectRunes,
		"is required, at most 255 characters")
	text("summary", n.Summary, utf8.RuneCountInString(n.Summary) <= MaxSummaryRunes, "must be at most 1024 characters")
	text("body", n.Body, len(n.Body) <= MaxBodyBytes, "must be at most 65536 bytes")
	return c.Err()
}

// Post adds a message to a user's inbox (the bank's POST /v1/users/{id}/inbox). An unknown user is invalid input.
func (s *Service) Post(ctx context.Context, actor, userID string, n NewMessage) (store.InboxMessage, error) {
	if err := n.Validate(); err != nil {
		return store.InboxMessage{}, err
	}
	if !store.ValidID(userID) {
		return store.InboxMessage{}, fault.New(fault.ErrNotFound, "user")
	}
	m := store.InboxMessage{UserID: userID, Type: n.Type, Subject: n.Subject, Summary: n.Summary, Body: n.Body,
		CreatedAt: s.now().UTC()}
	if err := s.store.CreateInboxMessage(ctx, &m); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return m, fault.New(fault.ErrNotFound, "user")
		}
		return m, err
	}
	if err := s.audit.Record(ctx, audit.Event{Type: "inbox.post", Outcome: audit.Success, Actor: actor, UserID: userID,
		Evidence: map[string]any{"message_id": m.ID, "type": m.Type}}); err != nil {
		return m, err
	}
	for _, o := range s.observers {
		o.InboxMessagePosted(ctx, m)
	}
	return m, nil
}

// Page is a page request of the app ({"page","size","onlyUnread"}; page from 0).
type Page struct {
	Page       int  `json:"page"`
	Size       int  `json:"size"`
	OnlyUnread bool `json:"onlyUnread"`
}

// Validate checks a page: page ≥ 0, size 1 to 100 (0 means 100).
func (p *Page) Validate() error {
	var c fault.Collector
	c.Check(p.Page >= 0 && p.Page <= 1_000_000, "page", "must be between 0 and 1000000")
	c.Check(p.Size >= 0 && p.Size <= MaxPageSize, "size", "must be between 1 and 100")
	if p.Size == 0 {
		p.Size = MaxPageSize
	}
	return c.Err()
}

// List returns a page of the user's messages, newest first.
func (s *Service) List(ctx context.Context, userID string, p Page) ([]store.InboxMessage, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return s.store.ListInbox(ctx, store.InboxFilter{UserID: userID, OnlyUnread: p.OnlyUnread, Offset: p.Page * p.Size, Limit: p.Size})
}

// CountUnread counts the user's unread messages.
func (s *Service) CountUnread(ctx context.Context, userID string) (int64, error) {
	return s.store.CountUnreadInbox(ctx, userID)
}

// errUnknown is what another user's message, or none, looks like.
var errUnknown = fault.New(fault.ErrNotFound, "inbox message")

// Get returns one message of the user.
func (s *Service) Get(ctx context.Context, userID, id string) (store.InboxMessage, error) {
	if !store.ValidID(id) {
		return store.InboxMessage{}, fault.Invalid("id", "is not a valid identifier")
	}
	m, err := s.store.GetInboxMessage(ctx, userID, strings.ToLower(id))
	if errors.Is(err, store.ErrNotFound) {
		return m, errUnknown
	}
	return m, err
}

// MarkRead marks one message of the user read (a message read before stays as it was).
func (s *Service) MarkRead(ctx context.Context, userID, id string) error {
	if !store.ValidID(id) {
		return fault.Invalid("id", "is not a valid identifier")
	}
	_, err := s.store.MarkInboxRead(ctx, userID, strings.ToLower(id), s.now().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return errUnknown
	}
	return err
}

// MarkAllRead marks every message of the user read.
func (s *Service) MarkAllRead(ctx context.Context, userID string) error {
	_, err := s.store.MarkAllInboxRead(ctx, userID, s.now().UTC())
	return err
}

// ParseID parses {"requestObject":{"id"}} of message detail and read.
func ParseID(body []byte) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	if err := decodeRequestObject(body, &r); err != nil {
		return "", err
	}
	return r.ID, nil
}

// ParsePage parses {"requestObject":{"page","size","onlyUnread"}} of the message list.
func ParsePage(body []byte) (Page, error) {
	var p Page
	err := decodeRequestObject(body, &p)
	return p, err
}

// decodeRequestObject decodes {"requestObject": {...}}: trailing data is refused, unknown members are ignored
// (a newer SDK may send more); the HTTP layer has already refused duplicate members and invalid UTF-8.
func decodeRequestObject(body []byte, dst any) error {
	var env struct {
		RequestObject json.RawMessage `json:"requestObject"`
	}
	if err := strictDecode(body, &env); err != nil {
		return err
	}
	if len(env.RequestObject) == 0 || string(env.RequestObject) == "null" {
		return fault.Invalid("requestObject", "is required")
	}
	return strictDecode(env.RequestObject, dst)
}

func strictDecode(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(dst); err != nil {
		return fault.Invalid("body", "must be JSON of the documented shape")
	}
	if dec.More() {
		return fault.Invalid("body", "has data after the JSON value")
	}
	return nil
}
