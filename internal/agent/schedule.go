package agent

import (
	"time"

	"github.com/icevault/icevault/internal/config"
)

// Backoff defaults: a failed run is retried after 5 min, then 10, 20 …
// up to 6 h, so a broken network or a full disk does not hammer S3 nor
// leave the archive stale for days once it is fixed.
const (
	DefaultBackoff    = 5 * time.Minute
	DefaultMaxBackoff = 6 * time.Hour
)

// nextDue is when a repository with schedule s, last backed up at last
// (zero: never), should run next. ok is false for a manual schedule.
func nextDue(s config.Schedule, last time.Time, loc *time.Location) (due time.Time, ok bool) {
	switch {
	case s.Manual():
		return time.Time{}, false
	case last.IsZero():
		return time.Time{}, true // never backed up: due at once
	case s.Interval > 0:
		return last.Add(s.Interval), true
	}
	// The first slot strictly after last, in local time (a slot is a wall
	// clock time: across a DST change "02:30" stays 02:30).
	l := last.In(loc)
	for day := 0; day < 3; day++ {
		d := time.Date(l.Year(), l.Month(), l.Day()+day, 0, 0, 0, 0, loc)
		for _, m := range s.Times {
			t := time.Date(d.Year(), d.Month(), d.Day(), m/60, m%60, 0, 0, loc)
			if t.After(last) {
				return t, true
			}
		}
	}
	return last.Add(24 * time.Hour), true // unreachable with a valid schedule
}

// backoff is the wait after the n-th failure in a row (n ≥ 1).
func backoff(n int, base, max time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
