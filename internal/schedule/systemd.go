package schedule

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// Systemd unit names.
const (
	AgentUnit      = "icevault-agent.service"
	BackupTemplate = "icevault-backup@.service"
)

// SystemdUserDir is where user units live: $XDG_CONFIG_HOME/systemd/user,
// or ~/.config/systemd/user.
func SystemdUserDir(home, xdgConfigHome string) string {
	if xdgConfigHome == "" || !filepath.IsAbs(xdgConfigHome) {
		xdgConfigHome = filepath.Join(home, ".config")
	}
	return filepath.Join(xdgConfigHome, "systemd", "user")
}

// SystemdEscape escapes s as `systemd-escape` does: "/" becomes "-",
// ASCII letters, digits, ":", "_" and "." stay (but not a leading "."),
// every other byte becomes \xNN.
func SystemdEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// BackupTimer is the timer unit name for a repository.
func BackupTimer(repo string) string { return "icevault-backup@" + SystemdEscape(repo) + ".timer" }

// execQuote quotes one ExecStart= word: systemd splits on spaces, honours
// C-style escapes in double quotes, expands $VAR and %specifiers.
func execQuote(s string) string {
	s = strings.NewReplacer(`%`, `%%`, `$`, `$$`).Replace(s)
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=,:@%$", r))
	}) < 0 {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// specifierSafe makes text safe for a setting where % starts a specifier.
func specifierSafe(s string) string { return strings.ReplaceAll(s, "%", "%%") }

func execLine(args []string, extra ...string) string {
	words := make([]string, 0, len(args)+len(extra))
	for _, a := range args {
		words = append(words, execQuote(a))
	}
	return strings.Join(append(words, extra...), " ")
}

const systemdHeader = "# " + Marker + `; "icevault schedule uninstall" removes it.
# Changes made here are replaced by the next "icevault schedule install".
`

// Systemd generates the user units for spec into dir.
func Systemd(spec Spec, dir string) (Plan, error) {
	if err := spec.check(); err != nil {
		return Plan{}, err
	}
	p := Plan{Platform: "systemd", Dir: dir}
	if spec.Mode == AgentMode {
		var b bytes.Buffer
		b.WriteString(systemdHeader)
		fmt.Fprintf(&b, `[Unit]
Description=icevault agent: scheduled backups, restore jobs and the tray icon

[Service]
Type=exec
ExecStart=%s
Restart=on-failure
RestartSec=30s
Nice=10
IOSchedulingClass=idle

[Install]
WantedBy=default.target
`, execLine(spec.args("agent")))
		p.Units = append(p.Units, Unit{Name: AgentUnit, ID: AgentUnit, Content: b.Bytes(), Activate: true})
		return p, nil
	}

	var b bytes.Buffer
	b.WriteString(systemdHeader)
	// %I is the unescaped instance: the repository name. It is quoted so a
	// name with spaces stays one argument.
	fmt.Fprintf(&b, `[Unit]
Description=icevault backup of repository %%I

[Service]
Type=oneshot
ExecStart=%s
Nice=19
IOSchedulingClass=idle
`, execLine(spec.args("backup"), "--repo", `"%I"`))
	p.Units = append(p.Units, Unit{Name: BackupTemplate, ID: BackupTemplate, Content: b.Bytes()})

	for _, j := range spec.Jobs {
		timer, err := timerSection(j)
		if err != nil {
			return Plan{}, err
		}
		name := BackupTimer(j.Repo)
		if len(name) > 255 {
			return Plan{}, fmt.Errorf("repository name %q is too long for a systemd unit name", j.Repo)
		}
		var b bytes.Buffer
		b.WriteString(systemdHeader)
		fmt.Fprintf(&b, `[Unit]
Description=icevault backup of repository %s (%s)

[Timer]
%s
[Install]
WantedBy=timers.target
`, specifierSafe(j.Repo), specifierSafe(j.Spec), timer)
		p.Units = append(p.Units, Unit{Name: name, ID: name, Content: b.Bytes(), Activate: true})
	}
	return p, nil
}

// timerSection turns a schedule into [Timer] settings. Wall-clock
// (OnCalendar) timers with Persistent=true catch up a run missed while the
// machine was off or asleep; an interval that divides a day evenly is
// expressed that way too. Other intervals fall back to monotonic timers.
func timerSection(j Job) (string, error) {
	var b strings.Builder
	s := j.Schedule
	delay := 5 * time.Minute
	switch {
	case len(s.Times) > 0:
		for _, m := range s.Times {
			fmt.Fprintf(&b, "OnCalendar=*-*-* %02d:%02d:00\n", m/60, m%60)
		}
		b.WriteString("Persistent=true\n")
	case s.Interval > 0:
		if s.Interval/10 < delay {
			delay = s.Interval / 10
		}
		if cal := calendarFor(s.Interval); cal != nil {
			for _, c := range cal {
				fmt.Fprintf(&b, "OnCalendar=%s\n", c)
			}
			b.WriteString("Persistent=true\n")
		} else {
			fmt.Fprintf(&b, "OnBootSec=15min\nOnUnitActiveSec=%s\n", systemdSpan(s.Interval))
		}
	default:
		return "", errors.New("repository " + j.Repo + " has no schedule")
	}
	fmt.Fprintf(&b, "RandomizedDelaySec=%s\n", systemdSpan(delay))
	return b.String(), nil
}

// calendarFor expresses an interval that divides 24h into whole minutes as
// OnCalendar expressions, or returns nil.
func calendarFor(d time.Duration) []string {
	if d%time.Minute != 0 {
		return nil
	}
	m := int(d / time.Minute)
	if m <= 0 || 1440%m != 0 {
		return nil
	}
	switch {
	case m == 1440:
		return []string{"*-*-* 00:00:00"}
	case m < 60 && 60%m == 0:
		return []string{fmt.Sprintf("*-*-* *:00/%d:00", m)}
	case m%60 == 0:
		return []string{fmt.Sprintf("*-*-* 00/%d:00:00", m/60)}
	}
	var out []string
	for t := 0; t < 1440; t += m {
		out = append(out, fmt.Sprintf("*-*-* %02d:%02d:00", t/60, t%60))
	}
	return out
}

// systemdSpan writes d as a systemd time span ("6h", "90min", "45s").
func systemdSpan(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dmin", d/time.Minute)
	}
	return fmt.Sprintf("%ds", (d+time.Second-1)/time.Second)
}
