package device

import (
	"context"
	"encoding/json"

	"github.com/signet-sca/signet/powerauth"
)

// InboxMessage is a message of the user's inbox as the mobile-token SDKs model it (InboxMessage,
// InboxMessageDetail; Body only in a detail).
type InboxMessage struct {
	ID               string `json:"id"`
	Type             string `json:"type"` // text or html
	Subject          string `json:"subject"`
	Summary          string `json:"summary"`
	Body             string `json:"body,omitempty"`
	Read             bool   `json:"read"`
	TimestampCreated string `json:"timestampCreated"`
}

func (c *Client) tokenPost(ctx context.Context, st *State, path string, body []byte, out any) error {
	return c.withToken(ctx, st, func(hdr string) error {
		return c.post(ctx, path, map[string]string{powerauth.HeaderToken: hdr}, body, out)
	})
}

// InboxCount returns the number of unread messages (/api/inbox/count).
func (c *Client) InboxCount(ctx context.Context, st *State) (int64, error) {
	var resp okResponse[struct {
		CountUnread int64 `json:"countUnread"`
	}]
	err := c.tokenPost(ctx, st, "/api/inbox/count", []byte("{}"), &resp)
	return resp.ResponseObject.CountUnread, err
}

// InboxList returns a page of messages, newest first (/api/inbox/message/list; page from 0, size 1 to 100).
func (c *Client) InboxList(ctx context.Context, st *State, page, size int, onlyUnread bool) ([]InboxMessage, error) {
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]any{"page": page, "size": size, "onlyUnread": onlyUnread}})
	var resp okResponse[[]InboxMessage]
	err := c.tokenPost(ctx, st, "/api/inbox/message/list", body, &resp)
	return resp.ResponseObject, err
}

// InboxDetail returns one message with its body (/api/inbox/message/detail).
func (c *Client) InboxDetail(ctx context.Context, st *State, id string) (InboxMessage, error) {
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": id}})
	var resp okResponse[InboxMessage]
	err := c.tokenPost(ctx, st, "/api/inbox/message/detail", body, &resp)
	return resp.ResponseObject, err
}

// InboxRead marks one message read (/api/inbox/message/read).
func (c *Client) InboxRead(ctx context.Context, st *State, id string) error {
	body, _ := json.Marshal(map[string]any{"requestObject": map[string]string{"id": id}})
	return c.tokenPost(ctx, st, "/api/inbox/message/read", body, nil)
}

// InboxReadAll marks every message read (/api/inbox/message/read-all).
func (c *Client) InboxReadAll(ctx context.Context, st *State) error {
	return c.tokenPost(ctx, st, "/api/inbox/message/read-all", []byte("{}"), nil)
}
