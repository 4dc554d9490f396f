package schedule

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"howett.net/plist"
)

// Launchd labels.
const (
	AgentLabel        = "dev.icevault.agent"
	backupLabelPrefix = "dev.icevault.backup."
)

// LaunchAgentsDir and LaunchdLogDir are under the user's home.
func LaunchAgentsDir(home string) string { return filepath.Join(home, "Library", "LaunchAgents") }

// LaunchdLogDir is where launchd writes the jobs' stdout and stderr;
// launchd does not create it, so install does.
func LaunchdLogDir(home string) string { return filepath.Join(home, "Library", "Logs", "icevault") }

// BackupLabel is the launchd label of a repository's unattended backup.
// Characters outside [A-Za-z0-9._-] are percent-encoded, so distinct
// repository names give distinct labels and file names.
func BackupLabel(repo string) string {
	var b strings.Builder
	b.WriteString(backupLabelPrefix)
	for i := 0; i < len(repo); i++ {
		c := repo[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// launchdJob is the subset of launchd.plist(5) icevault writes.
type launchdJob struct {
	Label                 string             `plist:"Label"`
	ProgramArguments      []string           `plist:"ProgramArguments"`
	RunAtLoad             bool               `plist:"RunAtLoad,omitempty"`
	KeepAlive             *keepAlive         `plist:"KeepAlive,omitempty"`
	StartCalendarInterval []calendarInterval `plist:"StartCalendarInterval,omitempty"`
	StartInterval         int                `plist:"StartInterval,omitempty"`
	ProcessType           string             `plist:"ProcessType,omitempty"`
	LowPriorityIO         bool               `plist:"LowPriorityIO,omitempty"`
	Nice                  int                `plist:"Nice,omitempty"`
	EnvironmentVariables  map[string]string  `plist:"EnvironmentVariables,omitempty"`
	StandardOutPath       string             `plist:"StandardOutPath"`
	StandardErrorPath     string             `plist:"StandardErrorPath"`
}

type keepAlive struct {
	// SuccessfulExit false: restart after a crash or error exit, but not
	// after the user chose Quit (exit 0).
	SuccessfulExit bool `plist:"SuccessfulExit"`
}

type calendarInterval struct {
	Hour   int `plist:"Hour"`
	Minute int `plist:"Minute"`
}

// launchdPATH lets the agent find `aws` (for `aws sso login`) where
// Homebrew and the AWS installer put it; launchd's default PATH is only
// /usr/bin:/bin:/usr/sbin:/sbin.
const launchdPATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

// Launchd generates the LaunchAgent plists for spec.
func Launchd(spec Spec, home string) (Plan, error) {
	if err := spec.check(); err != nil {
		return Plan{}, err
	}
	logs := LaunchdLogDir(home)
	p := Plan{Platform: "launchd", Dir: LaunchAgentsDir(home), LogDir: logs}
	add := func(j launchdJob) error {
		b, err := encodePlist(j)
		if err != nil {
			return err
		}
		p.Units = append(p.Units, Unit{Name: j.Label + ".plist", ID: j.Label, Content: b, Activate: true})
		return nil
	}
	if spec.Mode == AgentMode {
		return p, add(launchdJob{
			Label:                AgentLabel,
			ProgramArguments:     spec.args("agent"),
			RunAtLoad:            true,
			KeepAlive:            &keepAlive{SuccessfulExit: false},
			LowPriorityIO:        true,
			EnvironmentVariables: map[string]string{"PATH": launchdPATH},
			StandardOutPath:      filepath.Join(logs, "agent.log"),
			StandardErrorPath:    filepath.Join(logs, "agent.log"),
		})
	}
	for _, j := range spec.Jobs {
		label := BackupLabel(j.Repo)
		lj := launchdJob{
			Label:             label,
			ProgramArguments:  spec.args("backup", "--repo", j.Repo),
			ProcessType:       "Background",
			LowPriorityIO:     true,
			Nice:              10,
			StandardOutPath:   filepath.Join(logs, strings.TrimPrefix(label, "dev.icevault.")+".log"),
			StandardErrorPath: filepath.Join(logs, strings.TrimPrefix(label, "dev.icevault.")+".log"),
		}
		// launchd runs a calendar or interval job missed during sleep once
		// on wake, so no catch-up logic is needed here.
		if len(j.Schedule.Times) > 0 {
			for _, m := range j.Schedule.Times {
				lj.StartCalendarInterval = append(lj.StartCalendarInterval, calendarInterval{Hour: m / 60, Minute: m % 60})
			}
		} else {
			lj.StartInterval = int(j.Schedule.Interval.Seconds())
		}
		if err := add(lj); err != nil {
			return Plan{}, err
		}
	}
	return p, nil
}

// encodePlist writes an XML plist with the ownership marker as a comment
// after the DOCTYPE (launchd ignores comments; an unknown key would be
// logged as an error).
func encodePlist(j launchdJob) ([]byte, error) {
	b, err := plist.MarshalIndent(j, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("encoding the plist for %s: %w", j.Label, err)
	}
	const anchor = "<plist "
	i := bytes.Index(b, []byte(anchor))
	if i < 0 {
		return nil, fmt.Errorf("encoding the plist for %s: no <plist> element", j.Label)
	}
	comment := "<!-- " + Marker + "; \"icevault schedule uninstall\" removes it. -->\n"
	out := append([]byte(nil), b[:i]...)
	out = append(out, comment...)
	out = append(out, b[i:]...)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out, nil
}
