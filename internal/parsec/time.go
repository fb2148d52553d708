package parsec

import (
	"fmt"
	"time"
)

// DateTime is an instant in microseconds since the UNIX epoch, UTC. Certificates, manifests
// and every protocol timestamp use it; microseconds are what both SQLite integers and
// PostgreSQL TIMESTAMPTZ hold exactly.
type DateTime int64

// FromTime converts a time.Time, truncating to the microsecond.
func FromTime(t time.Time) DateTime { return DateTime(t.UnixMicro()) }

// Time returns the instant as a UTC time.Time.
func (d DateTime) Time() time.Time { return time.UnixMicro(int64(d)).UTC() }

// IsZero reports whether d is the zero value, which the protocol uses for "never" / "none".
func (d DateTime) IsZero() bool { return d == 0 }

// Add returns d shifted by a duration (rounded down to the microsecond).
func (d DateTime) Add(dur time.Duration) DateTime { return d + DateTime(dur/time.Microsecond) }

// Sub returns d - e as a duration.
func (d DateTime) Sub(e DateTime) time.Duration { return time.Duration(d-e) * time.Microsecond }

// String renders RFC 3339 with microseconds, e.g. 2026-11-21T17:54:42.123456Z.
func (d DateTime) String() string { return d.Time().Format("2006-01-02T15:04:05.000000Z07:00") }

// ParseDateTime accepts RFC 3339 (with or without fractional seconds).
func ParseDateTime(s string) (DateTime, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, Errorf(Invalid, "invalid time %q: want RFC 3339, e.g. 2026-01-02T15:04:05Z", s)
	}
	return FromTime(t), nil
}

// Clock tells the time. Servers and clients take one so that tests can move time.
type Clock interface {
	Now() DateTime
}

// SystemClock is the real clock.
type SystemClock struct{}

func (SystemClock) Now() DateTime { return FromTime(time.Now()) }

// FixedClock is a settable clock for tests.
type FixedClock struct{ T DateTime }

func (c *FixedClock) Now() DateTime { return c.T }

// GoString makes test failures readable.
func (d DateTime) GoString() string { return fmt.Sprintf("parsec.DateTime(%q)", d.String()) }
