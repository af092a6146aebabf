// Package server is Signet's HTTP layer on fiber: routing, middleware,
// request and response types and the one error handler. Handlers bind,
// validate, call a domain service and render; no SQL and no crypto here.
package server
