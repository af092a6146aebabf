package storetest

import (
	"testing"
	"time"

	"github.com/signet-sca/signet/store"
)

func testPushTokens(t *testing.T, newStore NewStore) {
	t.Run("unknown credential", func(t *testing.T) {
		s := newStore(t)
		err := s.PutPushToken(ctxT(t), &store.PushToken{CredentialID: "00000000-0000-4000-8000-000000000000", Platform: "fcm", Token: "t"})
		wantErr(t, "PutPushToken", err, store.ErrNotFound)
	})
	t.Run("put, replace, list only active, drop on removal", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u, other := mustUser(t, s, "a"), mustUser(t, s, "b")
		phone := mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPowerAuth})
		tablet := mustCredential(t, s, store.Credential{UserID: u.ID, Kind: store.KindPowerAuth})
		foreign := mustCredential(t, s, store.Credential{UserID: other.ID, Kind: store.KindPowerAuth})
		first := store.PushToken{CredentialID: phone.ID, Platform: "fcm", Token: "old", UpdatedAt: base}
		noErr(t, "PutPushToken", s.PutPushToken(ctx, &first))
		if first.UserID != u.ID || !first.CreatedAt.Equal(base) || first.Token != "old" {
			t.Fatalf("stored %+v", first)
		}
		again := store.PushToken{CredentialID: phone.ID, Platform: "apns", Environment: "production", Token: "new", UpdatedAt: base.Add(time.Hour)}
		noErr(t, "PutPushToken again", s.PutPushToken(ctx, &again))
		got, err := s.GetPushToken(ctx, phone.ID)
		noErr(t, "GetPushToken", err)
		if got.Token != "new" || got.Platform != "apns" || got.Environment != "production" || !got.CreatedAt.Equal(base) ||
			!got.UpdatedAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("replaced %+v", got)
		}
		noErr(t, "PutPushToken tablet", s.PutPushToken(ctx, &store.PushToken{CredentialID: tablet.ID, Platform: "fcm", Token: "tab"}))
		noErr(t, "PutPushToken foreign", s.PutPushToken(ctx, &store.PushToken{CredentialID: foreign.ID, Platform: "fcm", Token: "x"}))
		_, err = s.UpdateCredential(ctx, tablet.ID, func(c *store.Credential) error { c.Status = store.StatusBlocked; return nil })
		noErr(t, "block tablet", err)
		list, err := s.ListPushTokens(ctx, u.ID)
		noErr(t, "ListPushTokens", err)
		if len(list) != 1 || list[0].CredentialID != phone.ID {
			t.Fatalf("tokens of ACTIVE credentials: %+v", list)
		}
		_, err = s.UpdateCredential(ctx, phone.ID, func(c *store.Credential) error { c.Status = store.StatusRemoved; return nil })
		noErr(t, "remove phone", err)
		_, err = s.GetPushToken(ctx, phone.ID)
		wantErr(t, "GetPushToken after removal", err, store.ErrNotFound)
		_, err = s.UpdateCredential(ctx, tablet.ID, func(c *store.Credential) error { c.Status = store.StatusActive; return nil })
		noErr(t, "unblock tablet", err)
		list, err = s.ListPushTokens(ctx, u.ID)
		noErr(t, "ListPushTokens", err)
		if len(list) != 1 || list[0].CredentialID != tablet.ID {
			t.Fatalf("after removal and unblock: %+v", list)
		}
	})
}

func testInbox(t *testing.T, newStore NewStore) {
	t.Run("unknown user", func(t *testing.T) {
		s := newStore(t)
		err := s.CreateInboxMessage(ctxT(t), &store.InboxMessage{UserID: "00000000-0000-4000-8000-000000000000", Type: "text", Subject: "s"})
		wantErr(t, "CreateInboxMessage", err, store.ErrNotFound)
	})
	t.Run("list, count, read", func(t *testing.T) {
		s := newStore(t)
		ctx := ctxT(t)
		u, other := mustUser(t, s, "a"), mustUser(t, s, "b")
		var msgs []store.InboxMessage
		for i := range 3 {
			m := store.InboxMessage{UserID: u.ID, Type: "text", Subject: "s", Summary: "sum", Body: "body",
				CreatedAt: base.Add(time.Duration(i) * time.Minute)}
			noErr(t, "CreateInboxMessage", s.CreateInboxMessage(ctx, &m))
			msgs = append(msgs, m)
		}
		foreign := store.InboxMessage{UserID: other.ID, Type: "html", Subject: "x", CreatedAt: base}
		noErr(t, "CreateInboxMessage", s.CreateInboxMessage(ctx, &foreign))
		got, err := s.GetInboxMessage(ctx, u.ID, msgs[0].ID)
		noErr(t, "GetInboxMessage", err)
		sameRecord(t, "GetInboxMessage", got, msgs[0])
		_, err = s.GetInboxMessage(ctx, u.ID, foreign.ID)
		wantErr(t, "GetInboxMessage of another user", err, store.ErrNotFound)

		page, err := s.ListInbox(ctx, store.InboxFilter{UserID: u.ID, Limit: 2})
		noErr(t, "ListInbox", err)
		if len(page) != 2 || page[0].ID != msgs[2].ID || page[1].ID != msgs[1].ID {
			t.Fatalf("first page %v, want newest first", page)
		}
		page, err = s.ListInbox(ctx, store.InboxFilter{UserID: u.ID, Limit: 2, Offset: 2})
		noErr(t, "ListInbox", err)
		if len(page) != 1 || page[0].ID != msgs[0].ID {
			t.Fatalf("second page %v", page)
		}
		changed, err := s.MarkInboxRead(ctx, u.ID, msgs[1].ID, base.Add(time.Hour))
		noErr(t, "MarkInboxRead", err)
		if !changed {
			t.Fatal("MarkInboxRead of an unread message changed nothing")
		}
		if changed, err = s.MarkInboxRead(ctx, u.ID, msgs[1].ID, base.Add(2*time.Hour)); err != nil || changed {
			t.Fatalf("second MarkInboxRead: %v %v", changed, err)
		}
		if got, _ := s.GetInboxMessage(ctx, u.ID, msgs[1].ID); got.ReadAt == nil || !got.ReadAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("ReadAt %v, want the first read", got.ReadAt)
		}
		_, err = s.MarkInboxRead(ctx, u.ID, foreign.ID, base)
		wantErr(t, "MarkInboxRead of another user's message", err, store.ErrNotFound)
		if n, err := s.CountUnreadInbox(ctx, u.ID); err != nil || n != 2 {
			t.Fatalf("CountUnreadInbox %d %v, want 2", n, err)
		}
		unread, err := s.ListInbox(ctx, store.InboxFilter{UserID: u.ID, OnlyUnread: true})
		noErr(t, "ListInbox unread", err)
		if len(unread) != 2 || unread[0].ID != msgs[2].ID || unread[1].ID != msgs[0].ID {
			t.Fatalf("unread %v", unread)
		}
		if n, err := s.MarkAllInboxRead(ctx, u.ID, base.Add(3*time.Hour)); err != nil || n != 2 {
			t.Fatalf("MarkAllInboxRead %d %v, want 2", n, err)
		}
		if n, err := s.CountUnreadInbox(ctx, u.ID); err != nil || n != 0 {
			t.Fatalf("CountUnreadInbox %d %v after read all", n, err)
		}
		if n, err := s.CountUnreadInbox(ctx, other.ID); err != nil || n != 1 {
			t.Fatalf("the other user's count %d %v, want 1", n, err)
		}
	})
}
