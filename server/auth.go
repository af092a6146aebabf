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
	digests [][32]byte
}

func newAPIKeys(keys []config.APIKey) *apiKeys {
	k := &apiKeys{}
	for _, key := range keys {
		k.names = append(k.names, key.Name)
		k.digests = append(k.digests, sha256.Sum256([]byte(key.Secret)))
	}
	return k
}

// match returns the name of the key whose secret equals secret (and whose name
// equals name when name is given). Every key is compared, in constant time over
// fixed-length digests, so timing reveals neither which key nor how much matched.
func (k *apiKeys) match(name, secret string) (string, bool) {
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
	if found < 0 {
		return "", false
	}
	return k.names[found], true
}

const localActor = "actor"

// requireAPIKey authenticates the bank backend: "Authorization: Bearer
// <secret>" or "Basic base64(name:secret)" (RFC 6750 §2.1, RFC 7617 §2).
func (s *Server) requireAPIKey(c *fiber.Ctx) error {
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
	actor, ok := s.keys.match(name, secret)
	if !ok || secret == "" {
		return fault.ErrUnauthenticated
	}
	c.Locals(localActor, actor)
	return c.Next()
}

func actorOf(c *fiber.Ctx) string {
	a, _ := c.Locals(localActor).(string)
	return a
}
