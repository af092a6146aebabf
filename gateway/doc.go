// Package gateway is `signet gateway`: a reverse proxy in front of a payment API (or, in mode authz,
// the forward-auth check of nginx, Traefik, Caddy or Envoy) that accepts a request on a guarded route
// only with a valid, unused transaction token whose approved amount, currency and payee equal the
// request's. It is built on txsign/verify and fails closed.
package gateway
