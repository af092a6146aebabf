// Package notify tells a user's phone that an operation waits for approval (cross-device
// approval): a Notifier sends an FCM-shaped message through a push provider; the Observer sends
// one when an operation is created for a user with mobile credentials.
package notify
