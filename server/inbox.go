package server

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/activation"
	"github.com/signet-sca/signet/fault"
	"github.com/signet-sca/signet/inbox"
	"github.com/signet-sca/signet/powerauth"
	"github.com/signet-sca/signet/store"
)

// Private API: the bank posts to and reads a user's inbox.

type inboxMessageResponse struct {
	ID        string     `json:"id"`
	UserID    string     `json:"user_id"`
	Type      string     `json:"type"`
	Subject   string     `json:"subject"`
	Summary   string     `json:"summary"`
	Body      string     `json:"body"`
	Read      bool       `json:"read"`
	ReadAt    *time.Time `json:"read_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

func toInboxMessage(m store.InboxMessage) inboxMessageResponse {
	return inboxMessageResponse{ID: m.ID, UserID: m.UserID, Type: m.Type, Subject: m.Subject, Summary: m.Summary, Body: m.Body,
		Read: m.ReadAt != nil, ReadAt: m.ReadAt, CreatedAt: m.CreatedAt}
}

func (s *Server) postInboxMessage(c *fiber.Ctx) error {
	var req inbox.NewMessage
	if err := bind(c, &req); err != nil {
		return err
	}
	m, err := s.deps.Inbox.Post(c.UserContext(), actorOf(c), c.Params("id"), req)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toInboxMessage(m))
}

func (s *Server) listInboxMessages(c *fiber.Ctx) error {
	// Strict: "page=abc" is a 400 naming the field, never page 0.
	var col fault.Collector
	p := inbox.Page{Page: queryUint(&col, c, "page"), Size: queryUint(&col, c, "size")}
	switch v := c.Query("only_unread"); v {
	case "", "false":
	case "true":
		p.OnlyUnread = true
	default:
		col.Check(false, "only_unread", "must be true or false")
	}
	if err := col.Err(); err != nil {
		return err
	}
	if _, err := s.deps.Accounts.GetUser(c.UserContext(), c.Params("id")); err != nil {
		return err
	}
	msgs, err := s.deps.Inbox.List(c.UserContext(), c.Params("id"), p)
	if err != nil {
		return err
	}
	out := make([]inboxMessageResponse, len(msgs))
	for i, m := range msgs {
		out[i] = toInboxMessage(m)
	}
	return c.JSON(fiber.Map{"messages": out})
}

// Device API (mobile-token SDK InboxService): X-PowerAuth-Token of an ACTIVE activation; the activation's
// user's inbox.

// inboxMessage is GetInboxListResponse.InboxMessage / GetInboxDetailResponse (body only in the detail).
type inboxMessage struct {
	ID               string  `json:"id"`
	Type             string  `json:"type"`
	Subject          string  `json:"subject"`
	Summary          string  `json:"summary"`
	Body             *string `json:"body,omitempty"`
	Read             bool    `json:"read"`
	TimestampCreated string  `json:"timestampCreated"`
}

func toDeviceInboxMessage(m store.InboxMessage, withBody bool) inboxMessage {
	out := inboxMessage{ID: m.ID, Type: m.Type, Subject: m.Subject, Summary: m.Summary, Read: m.ReadAt != nil,
		TimestampCreated: m.CreatedAt.UTC().Format(mobileTimeFormat)}
	if withBody {
		out.Body = &m.Body
	}
	return out
}

func (s *Server) inboxUser(c *fiber.Ctx) (activation.TokenAuth, error) {
	return s.deps.Activation.AuthenticateToken(c.UserContext(), c.Get(powerauth.HeaderToken))
}

func (s *Server) inboxCount(c *fiber.Ctx) error {
	if err := activation.ParseListRequest(c.Body()); err != nil {
		return err
	}
	ta, err := s.inboxUser(c)
	if err != nil {
		return err
	}
	n, err := s.deps.Inbox.CountUnread(c.UserContext(), ta.Activation.UserID)
	if err != nil {
		return err
	}
	return paOK(c, fiber.Map{"countUnread": n})
}

func (s *Server) inboxList(c *fiber.Ctx) error {
	p, err := inbox.ParsePage(c.Body())
	if err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	ta, err := s.inboxUser(c)
	if err != nil {
		return err
	}
	msgs, err := s.deps.Inbox.List(c.UserContext(), ta.Activation.UserID, p)
	if err != nil {
		return err
	}
	out := make([]inboxMessage, len(msgs))
	for i, m := range msgs {
		out[i] = toDeviceInboxMessage(m, false)
	}
	// Wultra's PagedResponse: the page and size next to responseObject.
	return c.JSON(fiber.Map{"status": "OK", "page": p.Page, "size": p.Size, "responseObject": out})
}

func (s *Server) inboxDetail(c *fiber.Ctx) error {
	id, err := inbox.ParseID(c.Body())
	if err != nil {
		return err
	}
	ta, err := s.inboxUser(c)
	if err != nil {
		return err
	}
	m, err := s.deps.Inbox.Get(c.UserContext(), ta.Activation.UserID, id)
	if err != nil {
		return err
	}
	return paOK(c, toDeviceInboxMessage(m, true))
}

func (s *Server) inboxRead(c *fiber.Ctx) error {
	id, err := inbox.ParseID(c.Body())
	if err != nil {
		return err
	}
	ta, err := s.inboxUser(c)
	if err != nil {
		return err
	}
	if err := s.deps.Inbox.MarkRead(c.UserContext(), ta.Activation.UserID, id); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}

func (s *Server) inboxReadAll(c *fiber.Ctx) error {
	if err := activation.ParseListRequest(c.Body()); err != nil {
		return err
	}
	ta, err := s.inboxUser(c)
	if err != nil {
		return err
	}
	if err := s.deps.Inbox.MarkAllRead(c.UserContext(), ta.Activation.UserID); err != nil {
		return err
	}
	return c.JSON(paEnvelope{Status: "OK"})
}

// queryUint reads an optional non-negative integer query parameter (0 when absent), noting a
// malformed one in col.
func queryUint(col *fault.Collector, c *fiber.Ctx, name string) int {
	v := c.Query(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	col.Check(err == nil && n >= 0 && len(v) <= 7, name, "must be a non-negative integer")
	return n
}
