// Package ceremony keeps the short-lived state of WebAuthn ceremonies (registration, approval,
// passcode change and reset challenges) out of the database: they live minutes, are read once and
// consumed once, and an approval wrote three statements for them (insert, read, consume; issue 17).
// The webauthn package declares the interface (webauthn.Ceremonies); this package implements it
// three ways:
//
//   - Memory: a bounded map in this process, for the embedded mode (SQLite, one process). A
//     restart loses the pending challenges; customers press again.
//   - Redis: shared by every replica (SIGNET_REDIS_URL). Put is one MULTI (HSET, PEXPIRE), Get one
//     HMGET, Consume one Lua script that sets the "used" field only if the ceremony still exists
//     and the field does not, so of any number of concurrent consumers on any replicas exactly one
//     wins. Redis expires the key itself; there is nothing to sweep.
//   - DB: the store's ceremonies table, for PostgreSQL without Redis, where several replicas share
//     only the database.
//
// Bank-issued enrollment links and management sessions are long-lived bearer artefacts and stay
// in the database whatever the mode.
//
// Every implementation answers the same way: Get returns a consumed ceremony with ConsumedAt
// set (so a replay is refused as used, and audited, rather than as unknown), store.ErrNotFound
// for one it does not hold; Consume returns store.ErrNotFound for an unknown, expired or used
// ceremony; an outage is fault.ErrUnavailable (503), never a success.
package ceremony
