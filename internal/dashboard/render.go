package dashboard

import (
	"fmt"
	"html/template"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/icevault/icevault/internal/cost"
)

func (s *server) funcs() template.FuncMap {
	return template.FuncMap{
		"bytes":   bytesize,
		"dollars": dollars,
		"when":    s.when,
		"ago":     s.ago,
		"short":   short,
		"join":    strings.Join,
		"percent": percent,
		"state":   stateLabel,
		"link":    link,
		"has":     func(list []string, s string) bool { return contains(list, s) },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
		"isoTime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	}
}

// bytesize is cost.Bytes, short for the templates and handlers.
func bytesize(n int64) string { return cost.Bytes(n) }

func dollars(v float64) string {
	if v > 0 && v < 0.00005 {
		return "< $0.0001" // not "$0.0000": it is not free
	}
	return cost.Dollars(v)
}

func (s *server) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.In(s.o.Location)
	if now := s.o.Now().In(s.o.Location); t.Year() != now.Year() {
		return t.Format("Mon 2 Jan 2006 15:04")
	}
	return t.Format("Mon 2 Jan 15:04")
}

// ago says how far t is from now, roughly, as people say it.
func (s *server) ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := s.o.Now().Sub(t)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	switch {
	case d < time.Minute:
		if suffix == "ago" {
			return "just now"
		}
		return "in under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%d min %s", int(d.Minutes()), suffix)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %s", int(d.Hours()), suffix)
	}
	return fmt.Sprintf("%d days %s", int(d.Hours()/24), suffix)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func percent(part, whole any) int {
	p, w := toFloat(part), toFloat(whole)
	if w <= 0 {
		return 0
	}
	return int(math.Round(100 * p / w))
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

func stateLabel(st State) string {
	switch st {
	case StateIdle:
		return "Idle"
	case StateBackingUp:
		return "Backing up"
	case StatePaused:
		return "Paused"
	case StateLoginRequired:
		return "AWS login required"
	case StateError:
		return "Error"
	}
	return string(st)
}

// link builds a same-origin URL from a path and key, value pairs.
func link(p string, kv ...any) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if s := fmt.Sprint(kv[i+1]); s != "" {
			v.Set(fmt.Sprint(kv[i]), s)
		}
	}
	if len(v) == 0 {
		return p
	}
	return p + "?" + v.Encode()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// chart is a step chart drawn as SVG on the server (no script, no chart
// library): the value holds from one backup to the next.
type chart struct {
	Class               string // "bytes" or "cost", for the colours
	Line, Area          string // SVG path data
	YTop, YMid          string // axis labels
	XStart, XEnd        string
	Width, Height       int
	Left, Right         int // the plot area
	Top, Bottom, Middle int
}

// The chart's geometry, in SVG user units (the SVG scales to its box).
const (
	chartW, chartH                 = 640, 220
	chartL, chartR, chartT, chartB = 78, 628, 14, 190
)

func stepChart(pts []UsagePoint, loc *time.Location, val func(UsagePoint) float64, label func(float64) string, binary bool) chart {
	c := chart{Width: chartW, Height: chartH, Left: chartL, Right: chartR, Top: chartT, Bottom: chartB, Middle: (chartT + chartB) / 2}
	t0, t1 := pts[0].Time, pts[len(pts)-1].Time
	if t1.Sub(t0) < 24*time.Hour {
		t0 = t1.Add(-24 * time.Hour) // one backup, or several today: show a day
	}
	maxV := 0.0
	for _, p := range pts {
		maxV = math.Max(maxV, val(p))
	}
	top := niceCeil(maxV*1.1, binary)
	x := func(t time.Time) float64 {
		return chartL + float64(t.Sub(t0))/float64(t1.Sub(t0))*(chartR-chartL)
	}
	y := func(v float64) float64 { return chartB - v/top*(chartB-chartT) }
	var d []string
	for i, p := range pts {
		if i == 0 {
			// Nothing was stored before the first backup.
			d = append(d, fmt.Sprintf("M%.1f %d", x(p.Time), chartB))
		} else {
			d = append(d, fmt.Sprintf("H%.1f", x(p.Time)))
		}
		d = append(d, fmt.Sprintf("V%.1f", y(val(p))))
	}
	d = append(d, fmt.Sprintf("H%d", chartR))
	c.Line = strings.Join(d, " ")
	c.Area = c.Line + fmt.Sprintf(" V%d Z", chartB)
	c.YTop, c.YMid = label(top), label(top/2)
	c.XStart, c.XEnd = t0.In(loc).Format("2 Jan 2006"), t1.In(loc).Format("2 Jan 2006")
	return c
}

// axisDollars labels the cost axis: its round values, however small,
// exactly ("$0.00002"), where amounts elsewhere say "< $0.0001".
func axisDollars(v float64) string {
	if v >= 0.01 {
		return fmt.Sprintf("$%.2f", v)
	}
	return "$" + strconv.FormatFloat(v, 'f', -1, 64)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten, so that axis
// labels are round; with binary, sizes of 1 KiB and more are rounded in
// the unit they are shown in (KiB, MiB...).
func niceCeil(v float64, binary bool) float64 {
	if v <= 0 {
		return 1
	}
	if binary && v >= 1024 {
		p := math.Pow(1024, math.Floor(math.Log(v)/math.Log(1024)))
		return niceCeil(v/p, false) * p
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}
