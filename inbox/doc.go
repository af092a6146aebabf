// Package inbox keeps the messages a bank posts to a user (statements, notices, offers) and lets the user's
// PowerAuth app read them as the mobile-token SDKs' InboxService does: unread count, pages, detail, read,
// read all. Messages are plain text or HTML, written by the bank, never by a device.
package inbox
