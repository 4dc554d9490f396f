package config

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Schedule says when a repository is backed up: every Interval, or at each
// of Times (minutes after local midnight) every day. The zero Schedule means
// manual runs only.
type Schedule struct {
	Interval time.Duration
	Times    []int // minutes after midnight, sorted, distinct
}

// Manual reports whether s schedules nothing.
func (s Schedule) Manual() bool { return s.Interval == 0 && len(s.Times) == 0 }

// ParseSchedule reads "", "every 6h", "every 30m", "daily 02:30" or
// "daily 09:00,21:00".
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "manual" {
		return Schedule{}, nil
	}
	kind, arg, _ := strings.Cut(s, " ")
	arg = strings.TrimSpace(arg)
	switch kind {
	case "every":
		d, err := time.ParseDuration(arg)
		if err != nil || d < 15*time.Minute {
			return Schedule{}, fmt.Errorf("schedule %q: write a duration of at least 15m after \"every\", such as \"every 6h\"", s)
		}
		return Schedule{Interval: d}, nil
	case "daily":
		var times []int
		for _, part := range strings.Split(arg, ",") {
			t, err := time.Parse("15:04", strings.TrimSpace(part))
			if err != nil {
				return Schedule{}, fmt.Errorf("schedule %q: write times as HH:MM, such as \"daily 02:30\" or \"daily 09:00,21:00\"", s)
			}
			times = append(times, t.Hour()*60+t.Minute())
		}
		slices.Sort(times)
		return Schedule{Times: slices.Compact(times)}, nil
	}
	return Schedule{}, fmt.Errorf("schedule %q: use \"every 6h\", \"daily 02:30\", \"daily 09:00,21:00\" or leave it empty for manual runs", s)
}
