package powerauth

import "fmt"

// Version is a PowerAuth 3.x protocol version as carried in headers ("3.0" … "3.3").
type Version uint8

// Protocol versions (PowerAuth 3.x, ProtocolVersion).
const (
	Version30 Version = 30
	Version31 Version = 31
	Version32 Version = 32
	Version33 Version = 33
)

// ParseVersion accepts exactly "3.0", "3.1", "3.2" or "3.3".
func ParseVersion(s string) (Version, error) {
	switch s {
	case "3.0":
		return Version30, nil
	case "3.1":
		return Version31, nil
	case "3.2":
		return Version32, nil
	case "3.3":
		return Version33, nil
	}
	return 0, fmt.Errorf("%w: %q", ErrUnsupportedVersion, s)
}

// String returns the header form, e.g. "3.3".
func (v Version) String() string {
	if v < Version30 || v > Version33 {
		return fmt.Sprintf("invalid(%d)", uint8(v))
	}
	return fmt.Sprintf("3.%d", v-Version30)
}

// Valid reports whether v is one of the four 3.x versions.
func (v Version) Valid() bool { return v >= Version30 && v <= Version33 }
