package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/signet-sca/signet/config"
	"github.com/signet-sca/signet/fault"
)

type apiKeys struct {
	names   []string
	scopes  []config.Scope
	digests [][32]byte
}

func newAPIKeys(keys []config.APIKey) *apiKeys {
	k := &apiKeys{}
	for _, key := range keys {
		k.names = append(k.names, key.Name)
		scope := key.Scope
		if scope == 0 { // as an entry of SIGNET_API_KEYS without a scope
			scope = config.ScopeBank
		}
		k.scopes = append(k.scopes, scope)
		k.digests = append(k.digests, sha256.Sum256([]byte(key.Secret)))
	}
	return k
}

// match returns the index of the key whose secret equals secret (and whose name equals name
// when name is given). Every key is compared, in constant time over fixed-length digests, so
// timing reveals neither which key nor how much matched.
func (k *apiKeys) match(name, secret string) (int, bool) {
	d := sha256.Sum256([]byte(secret))
	found := -1
	for i := range k.digests {
		eq := subtle.ConstantTimeCompare(d[:], k.digests[i][:])
		if name != "" {
			eq &= subtle.ConstantTimeCompare([]byte(name), []byte(k.names[i]))
		}
		if eq == 1 && found < 0 {
			found = i
		}
	}
	return found, found >= 0
}

const localActor = "actor"

// insufficientScope is the refusal of an authenticated key whose scope is below the route's.
type insufficientScope struct{ need config.Scope }

func (e insufficientScope) Error() string { return "the API key's scope does not allow this call" }

// apiKey returns the middleware of a private route: it authenticates the caller with an API key,
// "Authorization: Bearer <secret>" or "Basic base64(name:secret)" (RFC 6750 §2.1, RFC 7617 §2),
// and admits it only if the key's scope allows need; otherwise 403 insufficient_scope (RFC 6750
// §3.1). Every private route declares its scope through this middleware; there is no other.
func (s *Server) apiKey(need config.Scope) fiber.Handler {
	return func(c *fiber.Ctx) error {
		scheme, cred, _ := strings.Cut(c.Get(fiber.HeaderAuthorization), " ")
		var name, secret string
		switch strings.ToLower(scheme) {
		case "bearer":
			secret = strings.TrimSpace(cred)
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
			if err != nil {
				return fault.ErrUnauthenticated
			}
			var ok bool
			if name, secret, ok = strings.Cut(string(raw), ":"); !ok || name == "" {
				return fault.ErrUnauthenticated
			}
		default:
			return fault.ErrUnauthenticated
		}
		i, ok := s.keys.match(name, secret)
		if !ok || secret == "" {
			return fault.ErrUnauthenticated
		}
		if !s.keys.scopes[i].Allows(need) {
			ctx := c.UserContext()
			loggerFrom(ctx, s.deps.Logger).WarnContext(ctx, "api key refused: insufficient scope", "key", s.keys.names[i],
				"scope", s.keys.scopes[i].String(), "needs", need.String(), "method", c.Method(), "route", c.Route().Path)
			return insufficientScope{need: need}
		}
		c.Locals(localActor, s.keys.names[i])
		return c.Next()
	}
}

func actorOf(c *fiber.Ctx) string {
	a, _ := c.Locals(localActor).(string)
	return a
}
